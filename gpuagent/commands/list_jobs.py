"""gpuagent list: every job with its schedule and timer state."""

from collections.abc import Sequence
from dataclasses import dataclass

from gpuagent.errors import InvalidInput, NotFound, SystemdError
from gpuagent.jobs import Job, job_names, load_job
from gpuagent.paths import Paths
from gpuagent.systemd import Systemd, TimerState, timer_unit_name


@dataclass(frozen=True)
class JobSummary:
    name: str
    job: Job | None  # None when the job file does not validate
    problem: str | None  # why it does not
    timer: TimerState | None  # None when systemd could not be asked


@dataclass(frozen=True)
class JobList:
    jobs: list[JobSummary]
    systemd_problem: str | None  # why the timers' states are missing, if they are


def list_jobs(paths: Paths) -> JobList:
    """Job files are read without asking systemd-analyze about their calendars (one
    process a job): systemd holds the timers, and `gpuagent doctor` checks the files fully."""
    names = job_names(paths.jobs_dir)
    timers, systemd_problem = read_timers(paths, names)
    summaries = []
    for name in names:
        try:
            job, problem = load_job(paths.job_file(name), check_calendar=False), None
        except (InvalidInput, NotFound) as err:
            job, problem = None, err.message
        summaries.append(JobSummary(name, job, problem, timers.get(name)))
    return JobList(summaries, systemd_problem)


def read_timers(paths: Paths, names: Sequence[str]) -> tuple[dict[str, TimerState], str | None]:
    """The timer of each job, by job name, asked of systemd in one call; or no timers and
    why, where systemd cannot be asked."""
    try:
        states = Systemd(paths.user_mode).timer_states([timer_unit_name(name) for name in names])
    except SystemdError as err:
        return {}, err.message
    return {name: states[timer_unit_name(name)] for name in names}, None
