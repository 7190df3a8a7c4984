"""Following a run as it happens, from what systemd and history already hold: its unit's
state, its invocation's journal lines, and its record. `gpuagent trigger --wait` follows a
job's run, `gpuagent submit --wait` a queued one; the views draw the events
(views/text.py's follow).
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gpuagent.host.systemd import Systemd
from gpuagent.runs.record import RunRecord

POLL_SECONDS = 0.5
# The journal takes the run's last lines a moment after the agent exits: read until
# nothing new comes twice in a row, for at most this long.
DRAIN_SECONDS = 3.0


@dataclass(frozen=True)
class RunWaiting:
    """The run has not started its container yet: it waits for GPU memory (or a retry)."""

    run: RunRecord | None  # None until the agent has recorded it
    vram: bool  # the job needs GPUs: what it waits for is VRAM


@dataclass(frozen=True)
class RunQueued:
    """The run waits in the queue (`gpuagent submit --wait`): its place, and why."""

    position: int | None  # 1 = next to start; None: its unit is starting
    why: str


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


RunEvent = RunQueued | RunWaiting | RunOutput | RunRunning | RunEnded


def follow_unit(systemd: Systemd, unit: str, uses_gpu: bool, invocation: str, latest: Callable[[], RunRecord | None]) -> Iterator[RunEvent]:
    """What one invocation of a run's unit does, as it happens, ending with RunEnded;
    `latest` reads the invocation's newest record."""
    cursor = None
    while True:
        state = systemd.service_state(unit)
        lines, cursor = systemd.invocation_messages(unit, invocation, cursor)
        if lines:
            yield RunOutput(lines)
        if not state.running or state.invocation_id != invocation:
            break
        run = latest()
        yield RunRunning(run) if run and run.container_id else RunWaiting(run, uses_gpu)
        time.sleep(POLL_SECONDS)
    deadline, quiet = time.monotonic() + DRAIN_SECONDS, 0
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS / 2)
        lines, cursor = systemd.invocation_messages(unit, invocation, cursor)
        quiet = 0 if lines else quiet + 1
        if lines:
            yield RunOutput(lines)
    yield RunEnded(latest(), state.exit_status)


def exit_status(ended: RunEnded) -> int:
    """The agent's exit status; 1 where systemd did not say."""
    return 1 if ended.exit_status is None else ended.exit_status
