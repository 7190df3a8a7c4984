"""Which waiting runs start now, and why each of the others waits. Pure: the dispatcher
(queue/dispatch.py) reads the GPUs, the claims and the entries under the admission lock,
asks plan(), and starts what it says.

The order is priority (higher first), then submission. Each waiting entry, in that order,
is admitted as a job's run is (runs/admission.py: best fit on free VRAM, less the claims
of runs starting) on what the entries ahead of it left: so a later entry may start on a
GPU the entries ahead cannot use now (backfill). Backfill alone could keep a big run
waiting for ever behind a stream of small ones; once the head of the queue has waited
longer than the starvation bound, nothing behind it starts until it has: the GPUs that
free up are held for it. The head they are held for is the first entry that freed GPUs
could start: not one its submitter's cap keeps out, nor one no GPU of the host could
take even empty (a typo'd 800GiB), which would otherwise hold every GPU for ever. CPU
runs take no GPU, so they start whatever waits. A cap on the GPUs one submitter holds at
once keeps one person from taking every GPU.
"""

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gpuagent.core.quantities import format_duration, format_size
from gpuagent.host.hostconfig import DEFAULT_STARVATION_BOUND
from gpuagent.host.nvml import GpuSnapshot
from gpuagent.queue.entry import QueueEntry
from gpuagent.runs import admission
from gpuagent.runs.vramneed import VramNeed


@dataclass(frozen=True)
class QueueRules:
    """The host's rules for the queue (gpuagent.toml's [queue], host/hostconfig.py)."""

    starvation_bound: int = DEFAULT_STARVATION_BOUND  # seconds the head may wait before GPUs are held for it
    max_gpus_per_submitter: int | None = None  # None: no cap


@dataclass(frozen=True)
class Start:
    entry: QueueEntry
    gpu_uuids: tuple[str, ...]
    need: VramNeed
    reason: str  # admission's words: which GPUs, with how much free


@dataclass(frozen=True)
class Plan:
    starts: list[Start]
    waits: dict[str, str]  # entry id -> why it waits
    held_for: str | None  # the head's id, when GPUs are held for it
    left: list[GpuSnapshot] = dataclasses.field(default_factory=list)  # the GPUs once the starts hold their needs


def queue_order(entries: Sequence[QueueEntry]) -> list[QueueEntry]:
    """The waiting entries in the order they start: priority, then their place."""
    return sorted((entry for entry in entries if entry.waiting), key=lambda entry: (-entry.priority, entry.order_at, entry.submitted_at))


def gpus_held(entries: Sequence[QueueEntry]) -> Counter[str]:
    """GPUs each submitter's started entries hold now."""
    held: Counter[str] = Counter()
    for entry in entries:
        if not entry.waiting:
            held[entry.submitter] += max(len(entry.gpu_uuids), entry.gpus)
    return held


def needs_of(entry: QueueEntry, vram: VramNeed) -> admission.Needs:
    return admission.Needs(entry.gpus, vram.bytes, entry.gpu_ids, entry.max_gpu_util, entry.exclusive)


def plan(
    entries: Sequence[QueueEntry],
    gpus: list[GpuSnapshot],
    vram: Mapping[str, VramNeed],
    now: float,
    rules: QueueRules,
    own_pids: frozenset[int] = frozenset(),
) -> Plan:
    """`gpus`: NVML's snapshots with the claims of runs starting taken off; `vram`: each
    waiting entry's need, by id."""
    ordered = queue_order(entries)
    held = gpus_held(entries)
    head = _head(ordered, held, gpus, vram, rules)
    held_for = head.id if head is not None and now - head.submitted_at > rules.starvation_bound else None
    held_from = ordered.index(head) + 1 if held_for else len(ordered)  # the entries behind a starving head
    starts: list[Start] = []
    waits: dict[str, str] = {}
    left = list(gpus)
    for position, entry in enumerate(ordered):
        need = vram[entry.id]
        if not entry.gpus:
            starts.append(Start(entry, (), need, "a CPU run: no GPU to wait for"))
            continue
        capped = _capped(entry, held, rules.max_gpus_per_submitter)
        if capped is not None:
            waits[entry.id] = capped
            continue
        if position >= held_from:
            waits[entry.id] = f"held for the head of the queue ({held_for}, waiting longer than {format_duration(rules.starvation_bound)})"
            continue
        decision = admission.decide(left, needs_of(entry, need), own_pids)
        if not decision.admitted:
            waits[entry.id] = decision.reason + _ahead(position)
            continue
        starts.append(Start(entry, decision.gpu_uuids, need, decision.reason))
        held[entry.submitter] += entry.gpus
        left = [_less(gpu, need.bytes) if gpu.uuid in decision.gpu_uuids else gpu for gpu in left]
    return Plan(starts, waits, held_for, left)


def _capped(entry: QueueEntry, held: Counter[str], cap: int | None) -> str | None:
    """Why the submitter's cap keeps a GPU entry from starting now; None: it does not."""
    if cap is None or held[entry.submitter] + entry.gpus <= cap:
        return None
    if entry.gpus > cap:
        return f"it asks {entry.gpus} GPUs, more than the cap of {cap} per submitter"
    return f"{entry.submitter} holds {held[entry.submitter]} GPU(s) already; the cap is {cap} per submitter"


def _head(
    ordered: list[QueueEntry], held: Counter[str], gpus: list[GpuSnapshot], vram: Mapping[str, VramNeed], rules: QueueRules
) -> QueueEntry | None:
    """The entry GPUs are held for once it starves: the first that freed GPUs could start."""
    return next(
        (
            entry
            for entry in ordered
            if entry.gpus and _capped(entry, held, rules.max_gpus_per_submitter) is None and _could_ever_fit(entry, vram[entry.id], gpus)
        ),
        None,
    )


def _could_ever_fit(entry: QueueEntry, need: VramNeed, gpus: list[GpuSnapshot]) -> bool:
    """Whether the entry would be admitted on the host's GPUs were they empty. While a GPU
    cannot be read (or none was), nothing says it could not."""
    if not gpus or any(gpu.total_bytes is None for gpu in gpus):
        return True
    empty = [
        dataclasses.replace(gpu, free_bytes=gpu.total_bytes, processes=(), utilization_pct=None if gpu.utilization_pct is None else 0) for gpu in gpus
    ]
    return admission.decide(empty, needs_of(entry, need)).admitted


def _less(gpu: GpuSnapshot, taken: int | None) -> GpuSnapshot:
    """The GPU once a run admitted on it holds `taken` bytes (None: all of it)."""
    if gpu.free_bytes is None:
        return gpu
    return dataclasses.replace(gpu, free_bytes=0 if taken is None else max(0, gpu.free_bytes - taken))


def _ahead(position: int) -> str:
    return "" if position == 0 else f" ({position} ahead in the queue)"


def describe_need(entry: QueueEntry, need: VramNeed) -> str:
    """What an entry needs, in words: '1 GPU with 40GiB free', 'no GPU'."""
    if not entry.gpus:
        return "no GPU"
    gpus = f"{entry.gpus} GPU{'s' if entry.gpus > 1 else ''}"
    return gpus if need.bytes is None else f"{gpus} with {format_size(need.bytes)} free"
