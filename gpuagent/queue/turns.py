"""A scheduled run's turn: a job's run that must wait for GPU memory takes its place in the
queue's order, so a nightly and a submitted experiment never race for a GPU.

The job's agent keeps waiting in its own process, as it always did (its --vram-wait and
--vram-policy hold), but while it waits it is an entry of the queue (`scheduled`): the
queue lists it, the dispatcher plans around it and never gives its GPUs to the runs
behind it, and it starts only when queue/order.py's plan, with it in its place, says so.
Where nothing else waits, a job's run is admitted exactly as before.
"""

import os
import time

from gpuagent.core.paths import Paths
from gpuagent.host.queuedb import QueueStore
from gpuagent.jobs.job import Job
from gpuagent.queue.entry import EntryState, QueueEntry
from gpuagent.runs.admission import Admission
from gpuagent.runs.record import RunRecord
from gpuagent.runs.vramneed import GIVEN, VramNeed

SCHEDULED_SUBMITTER = "(schedule)"  # who a job's run is submitted by, for the per-submitter cap


class QueueTurns:
    """runs/attempt.py's Turns, from the queue."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.registered = False

    def decide(self, run: RunRecord, job: Job, free: list, alone: Admission, *, waiting: bool) -> Admission:
        entries = self._entries()
        mine = next((entry for entry in entries if entry.id == run.run_id), None) or _entry(run, job)
        if not any(entry.waiting and entry.id != run.run_id for entry in entries):
            decided = alone  # nothing else waits: admission alone decides, as it always did
        else:
            # here: only a run that waits among others needs the queue's order (~7 ms to load)
            from gpuagent.queue.dispatch import learned_needs, rules
            from gpuagent.queue.order import plan

            others = [entry for entry in entries if entry.id != run.run_id]
            needs = {**learned_needs(self.paths, others), mine.id: VramNeed(job.min_free_vram, GIVEN)}
            order = plan([*others, mine], free, needs, time.time(), rules(self.paths))
            start = next((start for start in order.starts if start.entry.id == run.run_id), None)
            decided = Admission(True, start.gpu_uuids, start.reason) if start else Admission(False, (), order.waits.get(run.run_id, alone.reason))
        if not decided.admitted and waiting and not self.registered:
            with QueueStore(self.paths.queue_db) as store:
                store.add([mine])
            self.registered = True
        return decided

    def leave(self, run: RunRecord) -> None:
        if self.registered:
            with QueueStore(self.paths.queue_db) as store:
                store.remove(run.run_id)
            self.registered = False

    def _entries(self) -> list[QueueEntry]:
        if not self.paths.queue_db.exists():
            return []
        with QueueStore(self.paths.queue_db) as store:
            return store.entries()


def _entry(run: RunRecord, job: Job) -> QueueEntry:
    """The run as an entry: in its place from when it started waiting."""
    now = time.time()
    return QueueEntry(
        id=run.run_id,
        name=job.name,
        submitter=SCHEDULED_SUBMITTER,
        submitted_at=now,
        order_at=now,
        priority=job.priority,
        settings={},
        gpus=job.gpus,
        gpu_ids=job.gpu_ids,
        min_free_vram=job.min_free_vram,
        max_gpu_util=job.max_gpu_util,
        exclusive=job.exclusive,
        learn_from=(),
        dedupe_key=None,
        group_id=None,
        params=None,
        state=EntryState.WAITING,
        state_at=now,
        agent_pid=os.getpid(),
        scheduled=True,
        preempt=job.preempt,
    )
