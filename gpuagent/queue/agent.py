"""`gpuagent run-queued ID`: what a queued run's unit runs. It takes its entry, admits the
run on the GPUs the dispatcher gave it (the dispatcher's claim holds their memory until
then), runs it as a job's run is run (runs/runner.py's attempts, retries included),
records it under the entry's run id, closes the entry and dispatches the next runs at
once: the end of a queued run is what starts the next one.
"""

import dataclasses
import functools
import os
import time
from typing import TextIO

from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host import dockerd
from gpuagent.host.dockerd import Docker
from gpuagent.host.queuedb import QueueStore
from gpuagent.host.systemd import Systemd
from gpuagent.jobs.job import Job
from gpuagent.observe import announce
from gpuagent.queue.dispatch import dispatch, learned_needs
from gpuagent.queue.entry import EntryState, QueueEntry, entry_job
from gpuagent.runs.attempt import new_record, signals_stop_the_run
from gpuagent.runs.record import RunRecord, Status
from gpuagent.runs.recorder import RunRecorder
from gpuagent.runs.reservations import Reservations
from gpuagent.runs.runner import run_attempts

PREEMPTED_REASON = "stopped (SIGTERM, then its stop grace) to give its GPUs to a run of a higher priority; it waits again, first of its priority"


SHUTDOWN_REASON = "the host shut down while it ran (a reboot, a power-off): its container was stopped with its stop grace"


def run_queued(paths: Paths, entry_id: str, output: TextIO, log: Log) -> tuple[RunRecord | None, int]:
    """Run entry `entry_id`; its last attempt's record (None: the entry is gone, cancelled
    before it started) and the exit status for systemd."""
    with QueueStore(paths.queue_db) as store:
        entry = store.get(entry_id)
        if entry is None:
            log(f"queued run {entry_id} is no longer in the queue (cancelled?): nothing to run")
            return None, 0
        if not dockerd.answers():
            # dockerd went away since the dispatch (a restart): wait again, in its place.
            store.requeue(entry_id)
            Reservations(paths.runtime_dir).release(entry_id)
            log(f"dockerd does not answer: {entry.subject} run {entry_id} waits again")
            return None, 0
        if not store.set_state(entry_id, EntryState.RUNNING, gpu_uuids=entry.gpu_uuids, agent_pid=os.getpid()):
            log(f"queued run {entry_id} is no longer in the queue (cancelled?): nothing to run")
            return None, 0
    recorder = RunRecorder(paths, log)
    try:
        with signals_stop_the_run():
            run, status = _run(paths, entry, recorder, output, log)
        with QueueStore(paths.queue_db) as store:
            if run.status == Status.SKIPPED_VRAM:
                # Its GPUs filled up between the dispatch and its start: it waits again.
                store.requeue(entry.id)
                log(f"{entry.subject} run {entry.id} waits again: {run.reason}")
            elif run.status == Status.STOPPED and _preempted(store.get(entry.id), run):
                run, status = dataclasses.replace(run, status=Status.PREEMPTED, reason=PREEMPTED_REASON), 0
                recorder.save_final(run)
                store.requeue_preempted(entry.id)
                log(f"{entry.subject} run {run.run_id} preempted: it waits again at the head of priority {entry.priority}")
            elif run.status == Status.STOPPED and Systemd(paths.user_mode).shutting_down():
                run = dataclasses.replace(run, status=Status.LOST, reason=SHUTDOWN_REASON)
                recorder.save_final(run)
                store.remove(entry.id)
            else:
                store.remove(entry.id)
    finally:
        recorder.close()
    if run.status != Status.SKIPPED_VRAM:
        announce.announce_end(paths, entry.subject, run, status, log)
    dispatch(paths, log)  # which writes the metrics too
    return run, status


def _preempted(entry: QueueEntry | None, run: RunRecord) -> bool:
    """Stopped because a dispatcher preempted it (not by a cancel or `systemctl stop`)."""
    return entry is not None and entry.preempted_at is not None and entry.preempted_at >= run.started_at


def _run(paths: Paths, entry: QueueEntry, recorder: RunRecorder, output: TextIO, log: Log) -> tuple[RunRecord, int]:
    need = learned_needs(paths, [entry])[entry.id]
    # A run preempted before runs again as a new record of the same entry, as a retry does.
    again = entry.preemptions > 0
    fresh = new_record(entry.subject)
    vram = {"vram_need": need.bytes, "vram_need_source": need.source} if entry.gpus else {}
    queued = dataclasses.replace(
        fresh,
        run_id=fresh.run_id if again else entry.id,
        attempt=entry.preemptions + 1,
        first_run_id=entry.id if again else None,
        **entry.run_fields(),
        **vram,
    )

    if again:
        Reservations(paths.runtime_dir).hand_over(entry.id, queued.run_id)

    def record(attempt: int, first: RunRecord | None) -> RunRecord:
        if first is None:
            return dataclasses.replace(queued, started_at=time.time())
        return dataclasses.replace(new_record(entry.subject, attempt, first), **entry.run_fields(), **vram)

    def read_job() -> tuple[Job, None]:
        job = entry_job(entry.name, entry.settings)
        # On the GPUs the dispatcher chose, with the need it admitted them for.
        if job.uses_gpu:
            job = dataclasses.replace(job, min_free_vram=need.bytes, gpu_ids=entry.gpu_uuids or job.gpu_ids)
        return job, None

    return run_attempts(paths, record, read_job, recorder, output, log, functools.cache(Docker))
