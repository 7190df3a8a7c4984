"""Jobs: the settings table, Job, the job file, schedules, chains (--after), timer units, the jobs on this host."""
