"""What several commands need: every job with its timer, and the history if there is one."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from gpuagent.errors import InvalidInput, NotFound, SystemdError
from gpuagent.host.history import HistoryStore
from gpuagent.host.jobfiles import job_names, load_job
from gpuagent.host.systemd import Systemd, TimerState, timer_unit_name
from gpuagent.model.job import Job
from gpuagent.model.run import RunRecord
from gpuagent.paths import Paths


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


def job_summaries(paths: Paths) -> JobList:
    """Job files are read without looking at the host: no systemd-analyze for their
    calendars (one process a job; systemd holds the timers), no look at their volumes (an
    NFS mount that is down must not make a job look broken). `doctor` checks them fully."""
    names = job_names(paths.jobs_dir)
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
    try:
        states = Systemd(paths.user_mode).timer_states([timer_unit_name(name) for name in names])
    except SystemdError as err:
        return {}, err.message
    return {name: states[timer_unit_name(name)] for name in names}, None


@contextmanager
def existing_history(paths: Paths) -> Iterator[HistoryStore | None]:
    """The history store, or None where no run was ever recorded: a view does not create it."""
    if not paths.history_db.exists():
        yield None
        return
    with HistoryStore(paths.history_db) as store:
        yield store


def get_run(paths: Paths, run_id: str) -> RunRecord:
    with existing_history(paths) as store:
        run = None if store is None else store.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} in history", "see `gpuagent history` for run ids")
    return run
