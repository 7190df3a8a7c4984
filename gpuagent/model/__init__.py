"""The job model: settings, schedules, unit files and run records as data. Pure: nothing here looks at the host."""
