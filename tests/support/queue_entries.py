"""Queue entries and GPU snapshots made by hand, for the queue's unit tests."""

from gpuagent.host.nvml import GpuSnapshot
from gpuagent.queue.entry import EntryState, QueueEntry

GiB = 1 << 30
# 2026-03-01 02:00:00 UTC: a fixed moment, so every time in a test is relative to it.
T0 = 1772330400.0


def queue_entry(
    entry_id: str,
    *,
    submitted_at: float = T0,
    priority: int = 50,
    gpus: int = 1,
    need_gib: float | None = None,
    submitter: str = "alice",
    state: EntryState = EntryState.WAITING,
    gpu_uuids: tuple[str, ...] = (),
    **fields,
) -> QueueEntry:
    """A waiting entry (named `entry_id`, also its id) asking `gpus` GPUs with `need_gib` free."""
    values = dict(
        id=entry_id,
        name=entry_id,
        submitter=submitter,
        submitted_at=submitted_at,
        order_at=submitted_at,
        priority=priority,
        settings={"image": "img", "command": ["true"]},
        gpus=gpus,
        gpu_ids=(),
        min_free_vram=None if need_gib is None else int(need_gib * GiB),
        max_gpu_util=None,
        exclusive=False,
        learn_from=(f"queue/{entry_id}",),
        dedupe_key=None,
        group_id=None,
        params=None,
        state=state,
        state_at=submitted_at,
        gpu_uuids=gpu_uuids,
    )
    return QueueEntry(**{**values, **fields})


def gpu_uuid(index: int) -> str:
    return f"GPU-{index:08d}-0000-0000-0000-000000000000"


def gpu(index: int, free_gib: float | None, total_gib: int = 80, error: str | None = None, util: int | None = 0) -> GpuSnapshot:
    """free_gib None: its memory could not be read (as NVML's facade says it, no total either)."""
    free = None if free_gib is None else int(free_gib * GiB)
    return GpuSnapshot(
        index=index,
        uuid=gpu_uuid(index),
        name="NVIDIA H100 80GB HBM3",
        total_bytes=None if free is None else total_gib * GiB,
        used_bytes=None if free is None else total_gib * GiB - free,
        free_bytes=free,
        utilization_pct=util,
        processes=(),
        error=error,
    )
