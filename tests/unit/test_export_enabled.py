"""A disabled job (schedule.enabled = false in its file) exported: Kubernetes has the
same switch (a suspended CronJob), Slurm has none, and the export says so."""

from tests.unit.test_export import cron_job, job, kubernetes, slurm


def test_a_disabled_job_is_a_suspended_cronjob_whatever_its_timer():
    assert cron_job(kubernetes(job(enabled=False)))["spec"]["suspend"] is True, "from the job file, not only from systemd"
    assert "suspend" not in cron_job(kubernetes(job()))["spec"]


def test_a_disabled_job_exported_to_slurm_says_it_is_not_paused_there():
    notes = slurm(job(enabled=False), scrontab_script="/opt/jobs/nightly.sh").notes
    assert "schedule.enabled: the job is disabled on this host, the export is not: hold it in the cluster until it should run" in notes
    assert not [note for note in slurm(job(), scrontab_script="/opt/jobs/nightly.sh").notes if note.startswith("schedule.enabled")]
