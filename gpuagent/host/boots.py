"""This boot of the host: the kernel's id for it, and when it began; and when a process
of it started, to tell an agent still alive from a process that took its pid since.

A run's record carries the boot it was written in (host/historydb.py), so that a run
left `running` by an earlier boot is told apart from one that runs now, whatever the
clock did meanwhile (a host whose clock is set late at boot). systemd-nspawn gives each
boot of a container an id of its own, and the container's init is its boot.
"""

import functools
import os
from dataclasses import dataclass

_BOOT_ID = "/proc/sys/kernel/random/boot_id"


@dataclass(frozen=True)
class Boot:
    id: str
    started_at: float  # epoch seconds: when init (PID 1) started


@functools.cache
def current_boot() -> Boot:
    with open(_BOOT_ID) as handle:
        boot_id = handle.read().strip()
    return Boot(boot_id, _init_started_at())


def _init_started_at() -> float:
    """When PID 1 started. In a container, its own init: the container's boot."""
    started = process_started_at(1)
    if started is None:
        raise OSError("/proc/1/stat: init is not there to read")
    return started


def process_started_at(pid: int) -> float | None:
    """When process `pid` started (epoch seconds, to about a second: the kernel's boot
    time plus its start in clock ticks after it, /proc/PID/stat field 22); None where
    there is no such process, or only its zombie. A PermissionError (/proc mounted with
    hidepid) is raised: the caller cannot tell."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            # the command (field 2) may hold spaces and parentheses: count from its end
            fields = handle.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if fields[0] == "Z":
        return None
    return _kernel_booted_at() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


@functools.cache
def _kernel_booted_at() -> int:
    with open("/proc/stat") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("btime "))
