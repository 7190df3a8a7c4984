"""How a run ended, in the words history and the journal use."""

from enum import StrEnum


class Status(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    OOM_KILLED = "oom-killed"
    TIMED_OUT = "timed-out"
    STOPPED = "stopped"
    SKIPPED_VRAM = "skipped-vram"
    SKIPPED_OVERLAP = "skipped-overlap"
    ERROR = "error"


def classify(exit_code: int | None, oom_killed: bool, timed_out: bool, stopped: bool) -> tuple[Status, str]:
    """The status of a run whose container ended, and a reason for people."""
    if stopped:
        return Status.STOPPED, "stopped by a signal to gpuagent (systemctl stop, Ctrl-C)"
    if timed_out:
        return Status.TIMED_OUT, "ran past its --timeout and was stopped"
    if oom_killed:
        return Status.OOM_KILLED, "the container ran out of its --memory limit and was killed"
    if exit_code == 0:
        return Status.SUCCEEDED, "exit 0"
    return Status.FAILED, f"exit {exit_code}"
