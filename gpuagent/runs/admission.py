"""Which GPUs a run may use, decided from an NVML snapshot and the job's needs. Pure."""

from dataclasses import dataclass

from gpuagent.core.quantities import format_size
from gpuagent.host.nvml import GpuSnapshot


@dataclass(frozen=True)
class Admission:
    admitted: bool
    gpu_uuids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Needs:
    """What a job asks of its GPUs."""

    count: int
    min_free_vram: int | None = None
    allowed: tuple[str, ...] = ()  # indexes or UUIDs; empty = any
    max_util: int | None = None  # percent
    exclusive: bool = False  # no processes on the GPU but gpuagent's own


def decide(gpus: list[GpuSnapshot], needs: Needs, own_pids: frozenset[int] = frozenset()) -> Admission:
    """Choose `needs.count` GPUs that each have `min_free_vram` bytes free. Best fit: the
    GPUs with the least free memory that is still enough, leaving the roomiest ones for
    bigger jobs; with no minimum, the roomiest. GPUs that failed to read are never
    chosen, nor (fail closed) a GPU whose utilisation is unknown when a maximum is set.
    `own_pids`: processes of gpuagent's containers, which --exclusive tolerates."""
    allowed = needs.allowed
    candidates = [gpu for gpu in gpus if not allowed or str(gpu.index) in allowed or gpu.uuid in allowed]
    if not candidates:
        wanted = ", ".join(allowed) if allowed else "any GPU"
        return Admission(False, (), f"no GPU matches {wanted} on this host")
    readable = [gpu for gpu in candidates if gpu.available]
    usable = [gpu for gpu in readable if _usable(gpu, needs, own_pids)]
    fitting = [gpu for gpu in usable if needs.min_free_vram is None or gpu.free_bytes >= needs.min_free_vram]
    if len(fitting) < needs.count:
        refused = len(readable) - len(usable)
        return Admission(False, (), _shortfall(readable, needs, len(candidates) - len(readable), refused))
    best_fit = needs.min_free_vram is not None
    fitting.sort(key=lambda gpu: (gpu.free_bytes if best_fit else -gpu.free_bytes, gpu.index))
    chosen = fitting[: needs.count]
    described = ", ".join(f"GPU {gpu.index} ({format_size(gpu.free_bytes)} free)" for gpu in chosen)
    return Admission(True, tuple(gpu.uuid for gpu in chosen), f"admitted on {described}")


def _usable(gpu: GpuSnapshot, needs: Needs, own_pids: frozenset[int]) -> bool:
    if needs.max_util is not None and (gpu.utilization_pct is None or gpu.utilization_pct > needs.max_util):
        return False
    return not needs.exclusive or all(process.pid in own_pids for process in gpu.processes)


def _shortfall(readable: list[GpuSnapshot], needs: Needs, unreadable: int, refused: int) -> str:
    need = f"{needs.count} GPU(s)" + ("" if needs.min_free_vram is None else f" with {format_size(needs.min_free_vram)} free")
    parts = [f"needs {need}"]
    if readable:
        best = max(readable, key=lambda gpu: gpu.free_bytes)
        parts.append(f"best free is {format_size(best.free_bytes)} on GPU {best.index} ({best.uuid})")
    else:
        parts.append("no GPU could be read")
    if unreadable:
        parts.append(f"{unreadable} GPU(s) unavailable")
    if refused:
        rules = [rule for rule, on in (("--max-gpu-util", needs.max_util is not None), ("--exclusive", needs.exclusive)) if on]
        parts.append(f"{refused} GPU(s) refused by {' / '.join(rules)}")
    return "; ".join(parts)
