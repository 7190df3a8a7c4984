"""What the NVIDIA driver says about this host's GPUs, read through NVML (pynvml).

The only module that imports pynvml, and only inside functions, so commands that never
look at a GPU (`gpuagent --help` among them) do not load it. Each read initialises NVML
and shuts it down again: gpuagent runs are short-lived, and a fresh init also picks up a
driver that was reloaded since the last read.
"""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from gpuagent.core.errors import NvmlUnavailable

_HINT = "install the NVIDIA driver (check with `nvidia-smi`), or run CPU-only jobs (no --gpus)"

_T = TypeVar("_T")


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_bytes: int | None  # None when NVML does not say


@dataclass(frozen=True)
class GpuSnapshot:
    index: int
    uuid: str  # "" when the GPU failed before NVML gave its UUID
    name: str | None
    total_bytes: int | None
    used_bytes: int | None  # NVML's v1 figure: on newer drivers it includes reserved memory
    free_bytes: int | None
    utilization_pct: int | None
    processes: tuple[GpuProcess, ...]
    error: str | None = None  # this GPU failed to read (lost, unknown error)
    temperature_c: int | None = None  # the GPU die, degrees Celsius
    power_watts: float | None = None  # drawn by the whole board now

    @property
    def available(self) -> bool:
        """Whether this GPU can be considered for a job at all; without a free-memory
        figure nothing can be decided, so the answer is no."""
        return self.error is None and self.free_bytes is not None


def read_gpus() -> list[GpuSnapshot]:
    """Every GPU NVML knows, in NVML index order. A GPU that fails to read becomes an
    entry with `error` set and the others still read; a value the GPU does not support is
    None. Raises NvmlUnavailable when NVML cannot be loaded or initialised."""
    with _nvml() as pynvml:
        return [_read_gpu(index) for index in range(pynvml.nvmlDeviceGetCount())]


def driver_version() -> str | None:
    """The NVIDIA driver's version, or None where NVML cannot tell (no driver)."""
    try:
        with _nvml() as pynvml:
            return pynvml.nvmlSystemGetDriverVersion()
    except NvmlUnavailable:
        return None


@contextlib.contextmanager
def _nvml() -> Iterator[Any]:
    """pynvml, initialised for the block. An NVML failure that reaches here came from a
    host-wide call (init, device count), so NVML as a whole is unusable."""
    import pynvml

    try:
        pynvml.nvmlInit()
        try:
            yield pynvml
        finally:
            pynvml.nvmlShutdown()
    except pynvml.NVMLError as err:
        if isinstance(err, pynvml.NVMLError_LibraryNotFound):
            message = "NVIDIA driver not found: NVML could not be loaded"
        else:
            message = f"NVIDIA driver not usable: NVML says {err}"
        raise NvmlUnavailable(message, hint=_HINT) from err


def _read_gpu(index: int) -> GpuSnapshot:
    import pynvml

    uuid = ""
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        uuid = pynvml.nvmlDeviceGetUUID(handle)
        memory = _unless_unsupported(pynvml.nvmlDeviceGetMemoryInfo, handle)
        utilization = _if_readable(pynvml.nvmlDeviceGetUtilizationRates, handle)
        temperature = _if_readable(lambda h: pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU), handle)
        milliwatts = _if_readable(pynvml.nvmlDeviceGetPowerUsage, handle)
        return GpuSnapshot(
            index=index,
            uuid=uuid,
            name=_if_readable(pynvml.nvmlDeviceGetName, handle),
            total_bytes=None if memory is None else memory.total,
            used_bytes=None if memory is None else memory.used,
            free_bytes=None if memory is None else memory.free,
            utilization_pct=None if utilization is None else utilization.gpu,
            processes=_processes(handle),
            temperature_c=temperature,
            power_watts=None if milliwatts is None else milliwatts / 1000,
        )
    except pynvml.NVMLError as err:
        return GpuSnapshot(
            index=index,
            uuid=uuid,
            name=None,
            total_bytes=None,
            used_bytes=None,
            free_bytes=None,
            utilization_pct=None,
            processes=(),
            error=str(err),
        )


def _processes(handle: Any) -> tuple[GpuProcess, ...]:
    """Compute and graphics processes, each pid once. Empty when the GPU cannot list
    them: the memory figures, not this list, say how full the GPU is."""
    import pynvml

    by_pid: dict[int, GpuProcess] = {}
    for query in (
        pynvml.nvmlDeviceGetComputeRunningProcesses,
        pynvml.nvmlDeviceGetGraphicsRunningProcesses,
    ):
        for process in _unless_unsupported(query, handle) or ():
            by_pid.setdefault(process.pid, GpuProcess(process.pid, process.usedGpuMemory))
    return tuple(by_pid.values())


def _unless_unsupported(query: Callable[[Any], _T], handle: Any) -> _T | None:
    import pynvml

    try:
        return query(handle)
    except pynvml.NVMLError_NotSupported:
        return None


def _if_readable(query: Callable[[Any], _T], handle: Any) -> _T | None:
    """A figure only shown (name, temperature, power) or that fails closed when missing
    (utilisation, for --max-gpu-util): None on any NVML error, not only NotSupported, so
    a broken sensor does not take the GPU away. Memory, UUID and processes decide
    admission: their errors still mark the GPU unavailable."""
    import pynvml

    try:
        return query(handle)
    except pynvml.NVMLError:
        return None


@contextlib.contextmanager
def nvml_kept_open() -> Iterator[None]:
    """Keep NVML initialised for the block, so repeated read_gpus() calls (sampling a
    run's GPU use) skip the driver's start-up cost: NVML counts its inits, and only the
    first one is slow."""
    with _nvml():
        yield
