"""The queue as it stands (`gpuagent queue`, `submit --wait`): the runs submitted and not ended, in the order they start, each with
what it needs, how long it has waited and why it waits; and each sweep's progress.

The reasons are the dispatcher's own: the view asks queue/order.py's plan about the GPUs
as they are now (less the claims of runs starting), so "why" is what the next dispatch
would decide.
"""

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass

from gpuagent.core.paths import Paths
from gpuagent.host.historydb import existing_history
from gpuagent.host.queuedb import existing_queue
from gpuagent.queue.dispatch import learned_needs, rules
from gpuagent.queue.entry import QueueEntry
from gpuagent.queue.order import QueueRules, describe_need, plan, queue_order
from gpuagent.queue.sweepresults import last_attempts
from gpuagent.runs.record import Status
from gpuagent.runs.reservations import ClaimBook, Reservations
from gpuagent.runs.vramneed import VramNeed


@dataclass(frozen=True)
class QueueRow:
    entry: QueueEntry
    position: int | None  # 1 = next to start; None: started
    need: VramNeed
    needs: str  # in words: '1 GPU with 20GiB free'
    waited: float  # seconds since it was submitted (for a started one: until it started)
    why: str | None  # why it waits; None: started, or it starts at the next dispatch
    starts_next: bool  # the next dispatch would start it


@dataclass(frozen=True)
class GroupProgress:
    group_id: str
    name: str
    waiting: int
    running: int
    ended: dict[str, int]  # status -> runs of the group that ended so


@dataclass(frozen=True)
class QueueView:
    rows: list[QueueRow]
    groups: list[GroupProgress]
    rules: QueueRules
    gpu_error: str | None  # why the GPUs could not be read (the reasons then say less)
    held_for: str | None  # the head's id while GPUs are held for it


def queue_view(paths: Paths, *, read_gpus: bool = True) -> QueueView:
    store = existing_queue(paths)
    entries = [] if store is None else store.entries()
    if store is not None:
        store.close()
    host_rules = rules(paths)
    now = time.time()
    waiting = queue_order(entries)
    needs = learned_needs(paths, entries)
    gpus, gpu_error = _gpus(paths) if read_gpus and any(entry.gpus for entry in waiting) else ([], None)
    decided = plan(entries, gpus, needs, now, host_rules)
    starting = {start.entry.id for start in decided.starts}
    rows = [
        QueueRow(
            entry,
            position,
            needs[entry.id],
            describe_need(entry, needs[entry.id]),
            max(0.0, now - entry.submitted_at),
            decided.waits.get(entry.id),
            entry.id in starting,
        )
        for position, entry in enumerate(waiting, start=1)
    ]
    rows += [
        QueueRow(entry, None, needs[entry.id], describe_need(entry, needs[entry.id]), max(0.0, entry.state_at - entry.submitted_at), None, False)
        for entry in entries
        if not entry.waiting
    ]
    return QueueView(rows, _groups(paths, entries), host_rules, gpu_error, decided.held_for)


def _gpus(paths: Paths) -> tuple[list, str | None]:
    from gpuagent.host.nvml import NvmlUnavailable, read_gpus

    try:
        gpus = read_gpus()
    except NvmlUnavailable as err:
        return [], str(err)
    return ClaimBook(Reservations(paths.runtime_dir).current()).unclaimed(gpus), None


def _groups(paths: Paths, entries: list[QueueEntry]) -> list[GroupProgress]:
    groups: dict[str, GroupProgress] = {}
    for entry in entries:
        if entry.group_id is None:
            continue
        progress = groups.setdefault(entry.group_id, GroupProgress(entry.group_id, entry.name, 0, 0, {}))
        groups[entry.group_id] = dataclasses.replace(
            progress, waiting=progress.waiting + entry.waiting, running=progress.running + (not entry.waiting)
        )
    if groups:
        with existing_history(paths) as history:
            for group_id, progress in groups.items():
                runs = last_attempts([] if history is None else history.group_runs(group_id))
                ended = dict(Counter(run.status for run in runs if run.status != Status.RUNNING))
                groups[group_id] = dataclasses.replace(progress, ended=ended)
    return list(groups.values())
