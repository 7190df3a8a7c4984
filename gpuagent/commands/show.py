"""gpuagent show: one job, its timer and its next fire times."""

from dataclasses import dataclass
from datetime import datetime

from gpuagent.jobs import Job, load_job
from gpuagent.paths import Paths
from gpuagent.schedule import next_elapses
from gpuagent.systemd import Systemd, timer_unit_name

NEXT_FIRES = 3


@dataclass(frozen=True)
class JobDetail:
    job: Job
    job_file: str
    job_text: str
    timer_text: str | None
    enabled: bool
    next_fires: list[datetime]


def show_job(paths: Paths, name: str) -> JobDetail:
    job_file = paths.job_file(name)
    job = load_job(job_file)
    timer_file = paths.timer_file(name)
    return JobDetail(
        job=job,
        job_file=str(job_file),
        job_text=job_file.read_text(),
        timer_text=timer_file.read_text() if timer_file.is_file() else None,
        enabled=Systemd(paths.user_mode).is_enabled(timer_unit_name(name)),
        next_fires=next_elapses(job.schedule, NEXT_FIRES),
    )
