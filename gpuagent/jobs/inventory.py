"""Every job on this host, with its timer: what the views, the metrics and the monitors
all start from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpuagent.core.errors import InvalidInput, NotFound, SystemdError
from gpuagent.core.paths import Paths
from gpuagent.core.values import NAME_PATTERN

if TYPE_CHECKING:
    from gpuagent.host.systemd import TimerState
    from gpuagent.jobs.job import Job


def require_known_job(paths: Paths, name: str) -> None:
    """NotFound unless the job has a job file or a timer (either may be all that is left)."""
    if not paths.job_file(name).exists() and not paths.timer_file(name).exists():
        raise NotFound(f"no job named {name!r}", "see `gpuagent list` for the jobs there are")


def timer_names(paths: Paths) -> list[str]:
    """The jobs that have a timer file in the unit directory, whether or not a job file is left."""
    if not paths.unit_dir.is_dir():
        return []
    names = (timer.name.removeprefix("gpuagent@").removesuffix(".timer") for timer in paths.unit_dir.glob("gpuagent@*.timer"))
    return sorted(name for name in names if NAME_PATTERN.fullmatch(name))


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


def job_summaries(paths: Paths, only: Sequence[str] | None = None) -> JobList:
    """Every job (or those of `only` that have a job file). Job files are read without
    looking at the host: no systemd-analyze for their calendars (one process a job;
    systemd holds the timers), no look at their volumes (an NFS mount that is down must
    not make a job look broken). `doctor` checks them fully."""
    from gpuagent.jobs.catalog import job_names, load_job

    names = job_names(paths.jobs_dir) if only is None else [name for name in only if paths.job_file(name).exists()]
    timers, systemd_problem = read_timers(paths, names)
    summaries = []
    for name in names:
        try:
            job, problem = load_job(paths.job_file(name), on_host=False), None
        except (InvalidInput, NotFound) as err:
            job, problem = None, err.message
        summaries.append(JobSummary(name, job, problem, timers.get(name)))
    return JobList(summaries, systemd_problem)


def read_timers(paths: Paths, names: Sequence[str]) -> tuple[dict[str, TimerState], str | None]:
    """The timer of each job, by job name, asked of systemd in one call; or no timers and
    why, where systemd cannot be asked."""
    from gpuagent.host.systemd import Systemd, timer_unit_name

    try:
        states = Systemd(paths.user_mode).timer_states([timer_unit_name(name) for name in names])
    except SystemdError as err:
        return {}, err.message
    return {name: states[timer_unit_name(name)] for name in names}, None


def job_afters(paths: Paths) -> dict[str, str | None]:
    """Each job's upstream (None: it runs after none), by name; a job whose file does not
    load counts as one that follows none."""
    from gpuagent.jobs.catalog import job_names, load_job

    afters: dict[str, str | None] = {}
    for name in job_names(paths.jobs_dir):
        try:
            afters[name] = load_job(paths.job_file(name), on_host=False).after
        except (InvalidInput, NotFound):
            afters[name] = None
    return afters
