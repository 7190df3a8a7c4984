"""Which GPUs a run may use, decided from an NVML snapshot and the job's needs. Pure."""

from dataclasses import dataclass

from gpuagent.gpu import GpuSnapshot
from gpuagent.sizes import format_size


@dataclass(frozen=True)
class Admission:
    admitted: bool
    gpu_uuids: tuple[str, ...]
    reason: str


def decide(gpus: list[GpuSnapshot], count: int, min_free_vram: int | None, allowed: tuple[str, ...] = ()) -> Admission:
    """Choose `count` GPUs among `allowed` (indexes or UUIDs; empty = all) that each have
    `min_free_vram` bytes free. Best fit: the GPUs with the least free memory that is
    still enough, leaving the roomiest ones for bigger jobs. With no minimum, the
    roomiest. GPUs that failed to read are never chosen."""
    candidates = [gpu for gpu in gpus if not allowed or str(gpu.index) in allowed or gpu.uuid in allowed]
    readable = [gpu for gpu in candidates if gpu.available]
    if not candidates:
        wanted = ", ".join(allowed) if allowed else "any GPU"
        return Admission(False, (), f"no GPU matches {wanted} on this host")
    fitting = [gpu for gpu in readable if min_free_vram is None or gpu.free_bytes >= min_free_vram]
    if len(fitting) < count:
        return Admission(False, (), _shortfall(readable, count, min_free_vram, len(candidates) - len(readable)))
    if min_free_vram is None:
        fitting.sort(key=lambda gpu: (-gpu.free_bytes, gpu.index))
    else:
        fitting.sort(key=lambda gpu: (gpu.free_bytes, gpu.index))
    chosen = fitting[:count]
    described = ", ".join(f"GPU {gpu.index} ({format_size(gpu.free_bytes)} free)" for gpu in chosen)
    return Admission(True, tuple(gpu.uuid for gpu in chosen), f"admitted on {described}")


def _shortfall(readable: list[GpuSnapshot], count: int, min_free_vram: int | None, unreadable: int) -> str:
    need = f"{count} GPU(s)" + ("" if min_free_vram is None else f" with {format_size(min_free_vram)} free")
    parts = [f"needs {need}"]
    if readable:
        best = max(readable, key=lambda gpu: gpu.free_bytes)
        parts.append(f"best free is {format_size(best.free_bytes)} on GPU {best.index} ({best.uuid})")
    else:
        parts.append("no GPU could be read")
    if unreadable:
        parts.append(f"{unreadable} GPU(s) unavailable")
    return "; ".join(parts)
