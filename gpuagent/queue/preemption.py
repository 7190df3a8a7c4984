"""Priorities that can take a GPU back: which running queued runs to stop so that a waiting
run with --preempt fits. Pure: the dispatcher (queue/dispatch.py) asks after its plan, and
stops what this says.

Only runs of a strictly lower priority are taken from, never a job's scheduled run or a
session, and never a run that was preempted before and has not run PREEMPT_SHIELD_SECONDS
since it started again (no run is preempted twice in a row). The fewest, cheapest victims:
lowest priority first, then the most recently started (the least work to redo), and of
those only the ones on the GPUs the waiting run is then admitted on. A victim gets SIGTERM
and its stop grace (to write a checkpoint), is recorded `preempted` and goes back to the
head of its priority.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gpuagent.host.nvml import GpuSnapshot
from gpuagent.queue.entry import EntryState, QueueEntry
from gpuagent.queue.order import Plan, needs_of, queue_order
from gpuagent.runs import admission
from gpuagent.runs.vramneed import VramNeed

PREEMPT_SHIELD_SECONDS = 600


@dataclass(frozen=True)
class Preemption:
    entry: QueueEntry  # the waiting run that takes the GPUs
    victims: list[QueueEntry]
    reason: str  # what the victims' records say


def preemption(entries: Sequence[QueueEntry], plan: Plan, vram: Mapping[str, VramNeed], now: float) -> Preemption | None:
    """The first waiting --preempt run (in the queue's order) that the plan does not start
    and that stopping lower-priority runs would admit; None when there is none."""
    if any(_being_preempted(entry) for entry in entries):
        return None  # the GPUs of the runs being stopped are not free yet: wait for them
    starting = {start.entry.id for start in plan.starts}
    for entry in queue_order(entries):
        if not entry.preempt or not entry.gpus or entry.id in starting:
            continue
        victims = _victims(entry, entries, plan.left, vram, now)
        if victims:
            names = ", ".join(f"{victim.subject} run {victim.id}" for victim in victims)
            return Preemption(entry, victims, f"preempted by {entry.subject} run {entry.id} (priority {entry.priority}); it stopped {names}")
    return None


def _being_preempted(entry: QueueEntry) -> bool:
    return entry.state == EntryState.RUNNING and entry.preempted_at is not None and entry.preempted_at >= entry.state_at


def preemptible(victim: QueueEntry, entry: QueueEntry, now: float) -> bool:
    if victim.state != EntryState.RUNNING or victim.scheduled or not victim.gpu_uuids or victim.priority >= entry.priority:
        return False
    return victim.preempted_at is None or now - victim.state_at >= PREEMPT_SHIELD_SECONDS


def _victims(entry: QueueEntry, entries: Sequence[QueueEntry], left: list[GpuSnapshot], vram: Mapping[str, VramNeed], now: float) -> list[QueueEntry]:
    candidates = sorted((victim for victim in entries if preemptible(victim, entry, now)), key=lambda victim: (victim.priority, -victim.state_at))
    freed, taken = list(left), []
    for victim in candidates:
        taken.append(victim)
        freed = [_given_back(gpu, vram[victim.id].bytes) if gpu.uuid in victim.gpu_uuids else gpu for gpu in freed]
        decision = admission.decide(freed, needs_of(entry, vram[entry.id]))
        if decision.admitted:
            return [victim for victim in taken if set(victim.gpu_uuids) & set(decision.gpu_uuids)]
    return []


def _given_back(gpu: GpuSnapshot, held: int | None) -> GpuSnapshot:
    """The GPU once a run that held `held` bytes (None: all of it) stops."""
    if gpu.free_bytes is None or gpu.total_bytes is None:
        return gpu
    free = gpu.total_bytes if held is None else min(gpu.total_bytes, gpu.free_bytes + held)
    return dataclasses.replace(gpu, free_bytes=free)
