"""gpuagent list: every job with its schedule and timer state."""

from dataclasses import dataclass
from datetime import datetime

from gpuagent.errors import InvalidInput
from gpuagent.jobs import job_names, load_job
from gpuagent.paths import Paths
from gpuagent.systemd import Systemd, timer_unit_name


@dataclass(frozen=True)
class JobSummary:
    name: str
    schedule: str | None
    image: str | None
    gpus: int
    enabled: bool
    next_fire: datetime | None
    problem: str | None  # why the job file does not validate, if it does not


def list_jobs(paths: Paths) -> list[JobSummary]:
    systemd = Systemd(paths.user_mode)
    summaries = []
    for name in job_names(paths.jobs_dir):
        timer = timer_unit_name(name)
        enabled, next_fire = systemd.is_enabled(timer), systemd.next_elapse(timer)
        try:
            job = load_job(paths.job_file(name))
        except InvalidInput as err:
            summaries.append(JobSummary(name, None, None, 0, enabled, next_fire, err.message))
            continue
        summaries.append(JobSummary(name, job.schedule.describe(), job.image, job.gpus, enabled, next_fire, None))
    return summaries
