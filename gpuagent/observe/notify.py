"""Notifications and pings at a run's start and end. (Being built: stubs.)"""

from collections.abc import Callable

from gpuagent.model.run import RunRecord
from gpuagent.paths import Paths


def announce_start(paths: Paths, name: str, log: Callable[[str], None]) -> None:
    """Before the first attempt: the dead man's switch's /start ping."""


def announce_end(paths: Paths, name: str, run: RunRecord, exit_status: int, log: Callable[[str], None]) -> None:
    """After the invocation's last record is final: notify whoever wants this event."""
