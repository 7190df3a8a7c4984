"""A run as history keeps it: its record, and the words for how it ended."""

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    OOM_KILLED = "oom-killed"
    CUDA_OOM = "cuda-oom"
    TIMED_OUT = "timed-out"
    STOPPED = "stopped"
    SKIPPED_VRAM = "skipped-vram"
    SKIPPED_OVERLAP = "skipped-overlap"
    LOST = "lost"
    ERROR = "error"


# Worth another attempt: the command itself failed, perhaps for a passing reason. Not a
# skip (the next fire will do), a stop (someone asked) or a timeout (it would again).
RETRYABLE = frozenset({Status.FAILED, Status.OOM_KILLED, Status.CUDA_OOM})
SKIPPED = frozenset({Status.SKIPPED_VRAM, Status.SKIPPED_OVERLAP})


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    job: str
    invocation_id: str | None
    agent_pid: int | None
    started_at: float
    ended_at: float | None
    status: str
    exit_code: int | None
    reason: str | None
    gpu_uuids: tuple[str, ...]
    image: str | None
    container_id: str | None
    attempt: int = 1
    first_run_id: str | None = None
    log_tail: str | None = None
    peak_vram_bytes: int | None = None
    mean_vram_bytes: int | None = None
    mean_gpu_util: float | None = None
    gpu_names: str | None = None
    driver_version: str | None = None
    image_digest: str | None = None
    job_hash: str | None = None
    metrics: dict[str, float] | None = None  # what the run reported (runs/runmetrics.py); None: nothing
    metrics_problem: str | None = None  # what was wrong with its metrics file
    upstream_run_id: str | None = None  # the run of another job whose success started this one (--after)

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


def duration(seconds: float | None) -> str:
    """How long a run took, for people: '45s', '3m05s', '1h02m'; '-' for unknown."""
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
