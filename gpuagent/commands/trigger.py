"""gpuagent trigger: run a job now, through systemd, so it is logged like a timer run;
with --wait, follow that run until it ends.

Following needs nothing from the run but what systemd and history already hold: the
service's invocation id names the run's journal lines and its history rows. The run is
the service's, not ours, so a follower that goes away (Ctrl-C) leaves it running.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass

from gpuagent.errors import SystemdError
from gpuagent.host.history import HistoryStore
from gpuagent.host.jobfiles import load_job
from gpuagent.host.systemd import ServiceState, Systemd, service_unit_name
from gpuagent.model.run import RunRecord
from gpuagent.paths import Paths

POLL_SECONDS = 0.5
START_TIMEOUT_SECONDS = 30
# The journal takes the run's last lines a moment after the agent exits: read until
# nothing new comes twice in a row, for at most this long.
DRAIN_SECONDS = 3.0


@dataclass(frozen=True)
class Triggered:
    unit: str
    before: ServiceState  # the service as it was just before the start
    uses_gpu: bool


@dataclass(frozen=True)
class RunWaiting:
    """The run has not started its container yet: it waits for GPU memory (or a retry)."""

    run: RunRecord | None  # None until the agent has recorded it
    vram: bool  # the job needs GPUs: what it waits for is VRAM


@dataclass(frozen=True)
class RunOutput:
    lines: list[str]  # the container's output and the agent's own lines, as the journal has them


@dataclass(frozen=True)
class RunRunning:
    run: RunRecord


@dataclass(frozen=True)
class RunEnded:
    run: RunRecord | None  # the last attempt; None if the agent recorded nothing
    exit_status: int | None  # the agent's, as systemd saw it


RunEvent = RunWaiting | RunOutput | RunRunning | RunEnded


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
    systemd = Systemd(paths.user_mode)
    invocation = _invocation(systemd, triggered)
    with _Attempts(paths, name, invocation) as runs:
        yield from _follow(systemd, triggered, invocation, runs)


def _follow(systemd: Systemd, triggered: Triggered, invocation: str, runs: "_Attempts") -> Iterator[RunEvent]:
    unit, cursor = triggered.unit, None
    while True:
        state = systemd.service_state(unit)
        lines, cursor = systemd.invocation_messages(unit, invocation, cursor)
        if lines:
            yield RunOutput(lines)
        if not state.running or state.invocation_id != invocation:
            break
        run = runs.latest()
        yield RunRunning(run) if run and run.container_id else RunWaiting(run, triggered.uses_gpu)
        time.sleep(POLL_SECONDS)
    deadline, quiet = time.monotonic() + DRAIN_SECONDS, 0
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS / 2)
        lines, cursor = systemd.invocation_messages(unit, invocation, cursor)
        quiet = 0 if lines else quiet + 1
        if lines:
            yield RunOutput(lines)
    yield RunEnded(runs.latest(), state.exit_status)


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
