"""gpuagent trigger: run a job now, through systemd, so it is logged like a timer run;
with --wait, follow that run until it ends, then the runs its success starts (--after).

Following needs nothing from the run but what systemd and history already hold: the
service's invocation id names the run's journal lines and its history rows. The run is
the service's, not ours, so a follower that goes away (Ctrl-C) leaves it running.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gpuagent.core.errors import SystemdError
from gpuagent.core.paths import Paths
from gpuagent.host.historydb import HistoryStore, existing_history
from gpuagent.host.systemd import ServiceState, Systemd, service_unit_name
from gpuagent.jobs.catalog import load_job
from gpuagent.runs.followers import started_by_success
from gpuagent.runs.following import POLL_SECONDS, RunEnded, RunEvent, exit_status, follow_unit
from gpuagent.runs.record import RunRecord, Status

START_TIMEOUT_SECONDS = 30
FOLLOWER_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Triggered:
    unit: str
    before: ServiceState  # the service as it was just before the start
    uses_gpu: bool


def trigger_job(paths: Paths, name: str) -> Triggered:
    job = load_job(paths.job_file(name))
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    unit = service_unit_name(name)
    before = systemd.service_state(unit)
    systemd.start(unit)
    return Triggered(unit, before, job.uses_gpu)


def follow_run(paths: Paths, name: str, triggered: Triggered) -> Iterator[RunEvent]:
    """What the triggered run does, as it happens, ending with RunEnded. A job already
    running when triggered is not started again: that run is followed."""
    invocation = _invocation(Systemd(paths.user_mode), triggered)
    yield from follow_invocation(paths, name, invocation, triggered.uses_gpu)


def follow_invocation(paths: Paths, name: str, invocation: str, uses_gpu: bool) -> Iterator[RunEvent]:
    """What one invocation of the job's service does, as it happens, ending with RunEnded."""
    with _Attempts(paths, name, invocation) as runs:
        yield from follow_unit(Systemd(paths.user_mode), service_unit_name(name), uses_gpu, invocation, runs.latest)


def started_followers(paths: Paths, run: RunRecord | None) -> list[RunRecord]:
    """The runs that `run`'s success started (jobs that run --after its job), as each is
    recorded: waited for up to FOLLOWER_TIMEOUT_SECONDS, as a follower's agent records its
    run a moment after the upstream's agent started it. One a success does not start (on a
    circle, or disabled) is not waited for; a busy one is not started now."""
    if run is None or run.status != Status.SUCCEEDED:
        return []
    expected = set(started_by_success(paths, run.job))
    deadline = time.monotonic() + FOLLOWER_TIMEOUT_SECONDS
    while True:
        with existing_history(paths) as store:
            started = store.started_by(run.run_id) if store else []
        first = {}
        for follower in started:
            first.setdefault(follower.job, follower)
        if not expected - set(first) or time.monotonic() > deadline:
            return list(first.values())
        time.sleep(POLL_SECONDS)


def follow_chain(paths: Paths, ended: RunEnded, follow: Callable[[RunRecord, Iterator[RunEvent]], RunEnded]) -> int:
    """Follow the runs the ended run's success started (--after), and theirs, one after
    another, each through `follow` (which shows its events and returns its end). The
    exit status of the whole: the ended run's if not 0, else the first non-zero among
    the runs that followed it, else 0."""
    status = exit_status(ended)
    pending = [] if status else started_followers(paths, ended.run)
    while pending:
        run = pending.pop(0)
        uses_gpu = load_job(paths.job_file(run.job), on_host=False).uses_gpu
        ended = follow(run, follow_invocation(paths, run.job, run.invocation_id, uses_gpu))
        status = status or exit_status(ended)
        pending += started_followers(paths, ended.run)
    return status


def _invocation(systemd: Systemd, triggered: Triggered) -> str:
    """The invocation id of the run to follow: the one going on, or the new one."""
    if triggered.before.running and triggered.before.invocation_id:
        return triggered.before.invocation_id
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        state = systemd.service_state(triggered.unit)
        if state.invocation_id and state.invocation_id != triggered.before.invocation_id:
            return state.invocation_id
        if time.monotonic() > deadline:
            raise SystemdError(
                f"{triggered.unit} did not start within {START_TIMEOUT_SECONDS}s",
                f"see `{' '.join(['systemctl', *systemd.scope, 'status', triggered.unit])}`",
            )
        time.sleep(POLL_SECONDS / 5)


class _Attempts:
    """The history rows of one invocation (a run and its retries), read as they appear.
    The store is opened once it exists: the first run on a host creates it."""

    def __init__(self, paths: Paths, name: str, invocation: str) -> None:
        self.paths, self.name, self.invocation = paths, name, invocation
        self.store: HistoryStore | None = None

    def __enter__(self) -> "_Attempts":
        return self

    def __exit__(self, *exc) -> None:
        if self.store is not None:
            self.store.close()

    def latest(self) -> RunRecord | None:
        if self.store is None:
            if not self.paths.history_db.exists():
                return None
            self.store = HistoryStore(self.paths.history_db, read_only=True)
        return next((run for run in self.store.runs(self.name, 20) if run.invocation_id == self.invocation), None)
