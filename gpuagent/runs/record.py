"""A run as history keeps it: its record, the words for how it ended, and what its name
in history says it is.

History names a job's runs by the job (`nightly`), and every other run `KIND/NAME`: a
notebook's `notebook/lab`, a shell's `shell/nightly`, a run submitted to the queue
`queue/NAME`. No job name holds a `/`, so a job's history, metrics and notifications never
count another kind's, and `gpuagent history notebook/lab` finds one notebook's. The same
name labels its container, so `gpus` shows it as the holder of its GPU.
"""

from dataclasses import dataclass
from enum import StrEnum

from gpuagent.core.errors import InvalidInput
from gpuagent.core.values import parse_name


class RunKind(StrEnum):
    """What else than a job's timer can start a run."""

    NOTEBOOK = "notebook"
    SHELL = "shell"
    QUEUED = "queue"  # submitted to the queue (queue/)


JOB_KIND = "job"  # what a plain job's runs are, next to the other kinds
SEPARATOR = "/"


def subject(kind: RunKind, name: str) -> str:
    """The name a run of `kind` has in history and on its container: `notebook/lab`."""
    return f"{kind}{SEPARATOR}{name}"


def kind_of(subject_name: str) -> str:
    """`job`, `notebook`, `shell` or `queue`: what a history row's name says it is."""
    kind, separator, _ = subject_name.partition(SEPARATOR)
    return kind if separator else JOB_KIND


def parse_subject(text: str, label: str = "job name") -> str:
    """A job's name, or another run's `KIND/NAME`, as history, logs and reap take them."""
    kind, separator, name = text.partition(SEPARATOR)
    if not separator:
        return parse_name(text, label)
    if kind not in set(RunKind):
        kinds = " or ".join(k + "/NAME" for k in RunKind)
        raise InvalidInput(f"invalid {label}: {text!r} is neither a job nor {kinds}", f"a run not a job's is named {kinds}")
    parse_name(name, label)
    return text


class Status(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    OOM_KILLED = "oom-killed"
    CUDA_OOM = "cuda-oom"
    TIMED_OUT = "timed-out"
    STOPPED = "stopped"
    PREEMPTED = "preempted"  # stopped to give its GPUs to a run of a higher priority; it runs again
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
    submitter: str | None = None  # who submitted it to the queue (the user behind sudo); None: not submitted
    group_id: str | None = None  # the sweep it belongs to (queue/sweeps.py)
    params: dict[str, str] | None = None  # its sweep values, by name
    vram_need: int | None = None  # the free GPU memory admission asked for, bytes
    vram_need_source: str | None = None  # where that number came from: "given", or learned from which runs
    catch_up: bool = False  # its timer fired it late, for a fire missed while the host was down (Persistent=)

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
