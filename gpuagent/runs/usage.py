"""What one run used of its GPUs, sampled from NVML while its container runs.

NVML names processes by host PID; a process counts for the run when its cgroup names the
run's container (procs.py). Sampling keeps NVML initialised, so a sample costs a few
NVML calls, not a driver start-up.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from gpuagent.core.errors import NvmlUnavailable
from gpuagent.host.nvml import GpuSnapshot, nvml_kept_open, read_gpus
from gpuagent.host.procs import container_id_of_pid

SAMPLE_SECONDS = 1.0


@dataclass(frozen=True)
class GpuUsage:
    peak_vram_bytes: int | None
    mean_vram_bytes: int | None
    mean_gpu_util: float | None


def run_vram(gpus: list[GpuSnapshot], container_id: str) -> int:
    """Bytes the container's own processes hold on `gpus`."""
    return sum(process.used_bytes or 0 for gpu in gpus for process in gpu.processes if container_id_of_pid(process.pid) == container_id)


class GpuUsageSampler:
    """Samples in a thread from start() to stop(). `on_sample` gets each sample's memory of
    the run, by GPU UUID (what its claim on the GPUs depends on: runs/attempt.py)."""

    def __init__(self, container_id: str, gpu_uuids: tuple[str, ...], on_sample: Callable[[dict[str, int]], None]) -> None:
        self._container_id = container_id
        self._gpu_uuids = gpu_uuids
        self._on_sample = on_sample
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self._vram: list[int] = []
        self._util: list[int] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> GpuUsage:
        self._stopping.set()
        self._thread.join(timeout=10)
        if not self._vram:
            return GpuUsage(None, None, None)
        return GpuUsage(
            peak_vram_bytes=max(self._vram),
            mean_vram_bytes=sum(self._vram) // len(self._vram),
            mean_gpu_util=sum(self._util) / len(self._util) if self._util else None,
        )

    def _sample_until_stopped(self) -> None:
        try:
            with nvml_kept_open():
                while True:
                    self._sample()
                    if self._stopping.wait(SAMPLE_SECONDS):
                        return
        except NvmlUnavailable:
            return  # admission read NVML moments ago; if it is gone now, the run goes on unmeasured

    def _sample(self) -> None:
        gpus = [gpu for gpu in read_gpus() if gpu.uuid in self._gpu_uuids and gpu.error is None]
        used = {gpu.uuid: run_vram([gpu], self._container_id) for gpu in gpus}
        self._on_sample(used)
        self._vram.append(sum(used.values()))
        self._util += [gpu.utilization_pct for gpu in gpus if gpu.utilization_pct is not None]
