"""gpuagent show: one job, its timer and its next fire times."""

from dataclasses import dataclass
from datetime import datetime

from gpuagent.commands.list_jobs import read_timers
from gpuagent.jobs import Job, load_job
from gpuagent.paths import Paths
from gpuagent.schedule import next_elapses
from gpuagent.systemd import TimerState

NEXT_FIRES = 3


@dataclass(frozen=True)
class JobDetail:
    job: Job
    job_file: str
    job_text: str
    timer_file: str
    timer_text: str | None  # None when the timer file is missing
    timer: TimerState | None  # None when systemd could not be asked
    systemd_problem: str | None
    next_fires: list[datetime]


def show_job(paths: Paths, name: str) -> JobDetail:
    job_file = paths.job_file(name)
    job = load_job(job_file)
    timer_file = paths.timer_file(name)
    timers, systemd_problem = read_timers(paths, [name])
    return JobDetail(
        job=job,
        job_file=str(job_file),
        job_text=job_file.read_text(),
        timer_file=str(timer_file),
        timer_text=timer_file.read_text() if timer_file.is_file() else None,
        timer=timers.get(name),
        systemd_problem=systemd_problem,
        next_fires=next_elapses(job.schedule, NEXT_FIRES),
    )
