"""How a run ended, in the words history and the journal use."""

import re

from gpuagent.runs.record import Status

# What PyTorch, CUDA and cuDNN print when GPU memory runs out.
_CUDA_OOM = re.compile(
    r"CUDA out of memory|torch\.(cuda\.)?OutOfMemoryError|CUDA error: out of memory|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED"
)


def says_cuda_oom(line: str) -> bool:
    return _CUDA_OOM.search(line) is not None


def classify(exit_code: int | None, oom_killed: bool, timed_out: bool, stopped: bool, cuda_oom_seen: bool) -> tuple[Status, str]:
    """The status of a run whose container ended, and a reason for people."""
    if stopped:
        return Status.STOPPED, "stopped by a signal to gpuagent (systemctl stop, Ctrl-C)"
    if timed_out:
        return Status.TIMED_OUT, "ran past its --timeout and was stopped"
    if oom_killed:
        return Status.OOM_KILLED, "the container ran out of its --memory limit and was killed"
    if exit_code == 0:
        return Status.SUCCEEDED, "exit 0"
    if cuda_oom_seen:
        return Status.CUDA_OOM, f"exit {exit_code}: the log says CUDA out of memory"
    return Status.FAILED, f"exit {exit_code}"
