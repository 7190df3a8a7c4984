"""What each `--json` field means, in words, for the JSON reference page.

tests/support/json_schema.py says each field's type; this says what it holds. The page
(docs/reference/json-output.md) is made from both by tests/support/docs_reference.py,
which fails naming any field that has no words here. A job's settings take their words
from the settings table (jobs/settings.py): each is the `add` option of the same name.
"""

from gpuagent.jobs.settings import SETTINGS

# Objects that several documents hold, described once under these titles (json_schema's
# names on the left).
SHARED = {"JOB": "A job's settings", "RUN": "A run"}

_RUN_STATUSES = "`succeeded`, `failed`, `oom-killed`, `cuda-oom`, `timed-out`, `stopped`, `skipped-vram`, `skipped-overlap`, `lost`, `error`"

# Words a field has wherever it appears.
_EVERYWHERE = {
    "run_id": "the run's id",
    "status": f"`running` while it runs, then how it ended: {_RUN_STATUSES}",
    "reason": "why it ended so",
    "exit_code": "the container's exit code",
    "started_at": "when the run started",
    "ended_at": "when the run ended (null while it runs)",
    "duration_seconds": "how long it ran (null while it runs)",
    "problem": "why its job file does not load; the other job fields are then null",
    "enabled": "the job's timer is enabled",
    "next_fire": "when the timer fires next (null: disabled, or the job is running)",
    "last_fire": "when the timer last fired",
    "systemd_error": "why `enabled`, `next_fire` and `last_fire` are unknown (no systemd to ask)",
    "on_calendar": "its timer's `OnCalendar=` expressions (empty for `--every`)",
    "interval_seconds": "the `--every` interval",
    "tz": "the schedule's `--tz` zone (null: the host's zone)",
    "channel": "`notify` (an Apprise URL) or `ping` (the dead man's switch)",
    "event": "`failure`, `success`, `skip`, `recovered` or `lost`",
    "sent_at": "when it was sent",
    "delivered": "the receiver took it",
    "detail": "what the receiver said, or why it did not take it; never the URL",
}

# Words a field has in one object: "CONTEXT.FIELD", where CONTEXT is the document (or a
# shared object's title) and the path of fields down to the object.
_IN_CONTEXT = {
    "list.jobs": "one object per job file, by name",
    "list.jobs.name": "the job",
    "list.jobs.job": "the job's settings as in `show`, or null when its file does not load",
    "show.job": "the job's settings",
    "show.job_file": "its job file's path",
    "show.timer_file": "its timer's path",
    "show.timer_installed": "the timer file exists",
    "show.next_fires": "the next 3 fire times (empty for `--every`)",
    "show.followers": "the jobs that run `--after` this one",
    "show.notify": "what is told about the job, never where",
    "show.notify.file": "the job's notify file (there or not)",
    "show.notify.urls": "one object per URL that is told about the job",
    "show.notify.urls.scope": "`host` (/etc/gpuagent/notify.toml) or `job` (the job's notify file)",
    "show.notify.urls.events": "the events it is told",
    "show.notify.ping": "a dead man's switch is set",
    "show.notify.problems": "notify files that do not load, or that others can read",
    "status.jobs": "one object per job file, by name",
    "status.jobs.name": "the job",
    "status.jobs.schedule": "the schedule in words: `daily at 02:00`, `every 6h`, `cron 0 2 * * 1-5`",
    "status.jobs.last_run": "the newest run (its fields as in `history`)",
    "status.jobs.recent_finished": "finished runs among the last 10",
    "status.jobs.recent_succeeded": "of those, the ones that succeeded",
    "status.jobs.success_rate": "`recent_succeeded / recent_finished`, 0 to 1",
    "status.jobs.failing": "the last 3 finished runs all failed",
    "status.jobs.missed_last_fire": "the timer fired over a minute ago and no run started since",
    "status.jobs.last_notification": "the newest notification or ping about the job",
    "status.jobs.last_notification.run_id": "the run it was about (null for a `/start` ping)",
    "status.jobs.metric": "with `--metric NAME`: the newest recent run that reported it; null without `--metric` or when no recent run did",
    "status.jobs.metric.name": "the metric",
    "status.jobs.metric.run_id": "the run that reported it",
    "status.jobs.metric.value": "its value",
    "status.jobs.metric.change": "the change from the successful run before (null if none)",
    "history.runs": "the runs, newest first",
    "history --run.run": "the run",
    "history --run.started_runs": "the runs its success started (`--after`), oldest first",
    "history --run.started_runs.job": "the job of that run",
    "history --metric.job": "the job",
    "history --metric.metric": "the metric",
    "history --metric.runs": "the job's runs, newest first",
    "history --metric.runs.value": "the metric's value (null where the run did not report it)",
    "history --metric.runs.change": "the change from the previous successful run that reported it (null for the first)",
    "gpus.driver_version": "the NVIDIA driver's version",
    "gpus.nvml_error": "why there are no GPUs to show (no NVIDIA driver)",
    "gpus.docker_error": "why processes could not be matched to jobs",
    "gpus.gpus": "one object per GPU, in NVML order",
    "gpus.gpus.index": "NVML's index",
    "gpus.gpus.uuid": "its UUID",
    "gpus.gpus.name": "its name",
    "gpus.gpus.memory_total_bytes": "its memory",
    "gpus.gpus.memory_used_bytes": "memory in use",
    "gpus.gpus.memory_free_bytes": "memory free",
    "gpus.gpus.utilization_pct": "utilisation, 0 to 100",
    "gpus.gpus.temperature_c": "temperature in degrees Celsius",
    "gpus.gpus.power_watts": "power draw",
    "gpus.gpus.error": "the GPU could not be read",
    "gpus.gpus.processes": "the processes NVML reports on it",
    "gpus.gpus.processes.pid": "the host's process id",
    "gpus.gpus.processes.used_bytes": "the GPU memory it holds",
    "gpus.gpus.processes.container_id": "its container (null: not in a container)",
    "gpus.gpus.processes.job": "the gpuagent job or `notebook/NAME` (null: someone else's)",
    "gpus.gpus.reserved": "GPU memory admission reserved and no process uses yet",
    "gpus.gpus.reserved.holder": "the job, `notebook/NAME` or `shell/JOB` (null from an older gpuagent)",
    "gpus.gpus.reserved.run_id": "the run (or session) it is reserved for",
    "gpus.gpus.reserved.bytes": "how much",
    "doctor.ready": "nothing stops runs; the exit status is 0 exactly then",
    "doctor.findings": "what each check found",
    "doctor.findings.check": "`systemd`, `template-unit`, `docker`, `docker-gpu`, `nvidia-driver`, `gpu`, `directory`, `history`, `job` or `notify`",
    "doctor.findings.level": "an error stops runs",
    "doctor.findings.message": "what it found",
    "doctor.findings.fix": "the command that fixes it (for a timer that differs from its job file, or a missing one, `gpuagent sync`)",
    "notebook list.notebooks": "one object per notebook started and not yet ended",
    "notebook list.notebooks.name": "the notebook",
    "notebook list.notebooks.active": "its unit is running",
    "notebook list.notebooks.url": "its URL, with its token (null when this user cannot read its file)",
    "notebook list.notebooks.port": "its port on 127.0.0.1",
    "notebook list.notebooks.like": "the job it took its environment from",
    "notebook list.notebooks.idle_timeout_seconds": "its `--idle-timeout`",
    "notebook list.notebooks.ends_by": "its start plus its `--max-time`",
    "notebook list.notebooks.run": "its session in history (null before the agent recorded it)",
    "A job's settings.name": "the job",
    "A job's settings.schedule": "its schedule",
    "A job's settings.schedule.kind": "`none` is a job that runs only `--after` another",
    "A job's settings.schedule.value": "as given",
    "A job's settings.schedule.description": "in words",
    "A job's settings.volumes.host": "the host path",
    "A job's settings.volumes.container": "where it is mounted in the container",
    "A job's settings.volumes.read_only": "mounted `:ro`",
    "A run.job": "the job; for a notebook or shell `notebook/NAME`, `shell/JOB`",
    "A run.kind": "a scheduled or triggered run, a notebook or a shell",
    "A run.attempt": "1, or the retry's number",
    "A run.first_run_id": "for a retry, the run it retries",
    "A run.gpu_uuids": "the GPUs it was given",
    "A run.gpu_names": "their names",
    "A run.driver_version": "the NVIDIA driver's version",
    "A run.peak_vram_bytes": "the most GPU memory its own processes held",
    "A run.mean_vram_bytes": "the GPU memory its own processes held on average",
    "A run.mean_gpu_util_pct": "its GPUs' mean utilisation while it ran",
    "A run.image": "the image that ran",
    "A run.image_digest": "its digest",
    "A run.job_hash": "SHA-256 of the job file it ran with",
    "A run.container_id": "its container",
    "A run.invocation_id": "the systemd invocation (null: started by hand)",
    "A run.agent_pid": "the `gpuagent run` process",
    "A run.log_tail": "the last lines of output of a run that did not succeed",
    "A run.metrics": "the numbers the run reported, name to number (empty when it reported none)",
    "A run.metrics_problem": "what was wrong with its metrics file (the run is not failed for it)",
    "A run.upstream_run_id": "the run of another job whose success started this one (`--after`)",
    "A run.notifications": "what was sent about the run, oldest first",
}


def _setting_words() -> dict[str, str]:
    """A job setting's field: the `add` option it is, and that option's help."""
    return {
        f"A job's settings.{setting.json_name}": f"`{setting.option}`: {setting.help}" if setting.options else setting.help for setting in SETTINGS
    }


def words(context: str, field: str) -> str | None:
    """What `field` of the object at `context` means, or None when nothing says."""
    path = f"{context}.{field}"
    return _IN_CONTEXT.get(path) or _setting_words().get(path) or _EVERYWHERE.get(field)
