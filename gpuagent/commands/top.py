"""gpuagent top: one frame of the live view, gathered from what the other views read: the
GPUs and their holders (as `gpus` reads them), the runs running (history, and the queue
for a queued run that has not reached history yet), the queue as `queue` shows it, and
the last runs that ended.

Reading a frame is cheap enough to repeat every second or two: two read-only SQLite
queries, the queue's plan, one NVML read (kept initialised across frames by
gpu_reads_kept_open) and docker only when a GPU holds a container's process.
"""

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from gpuagent.core.errors import GpuAgentError, NvmlUnavailable
from gpuagent.core.paths import Paths
from gpuagent.host.historydb import existing_history
from gpuagent.host.nvml import nvml_kept_open
from gpuagent.jobs.catalog import load_job
from gpuagent.jobs.settings import BY_FIELD
from gpuagent.queue.entry import EntryState, QueueEntry
from gpuagent.queue.standing import QueueView, queue_view
from gpuagent.runs.gpuholders import GpusReport, read_gpu_report
from gpuagent.runs.record import JOB_KIND, RunRecord, Status, kind_of

ENDS_SHOWN = 5
# The ends are the newest by end among this many newest by start (history's index is on
# the start): a run ending now that started before that many others is not shown.
ENDS_LOOKED_AT = 50
RUNNING_SHOWN = 50


@dataclass(frozen=True)
class RunningRun:
    run_id: str
    name: str  # as history names it: nightly, queue/train, notebook/lab
    started_at: float | None  # None: its unit is starting, its agent has not recorded it yet
    timeout: int | None  # seconds it may run; None: no limit, or not known


@dataclass(frozen=True)
class TopFrame:
    taken_at: float
    gpus: GpusReport
    running: list[RunningRun]  # oldest first
    queue: QueueView
    ends: list[RunRecord]  # newest end first


def read_frame(paths: Paths) -> TopFrame:
    gpus = read_gpu_report(paths)
    queue = queue_view(paths)
    with existing_history(paths) as store:
        running = [] if store is None else store.runs(status=Status.RUNNING, limit=RUNNING_SHOWN)
        recent = [] if store is None else store.runs(limit=ENDS_LOOKED_AT)
    ends = sorted((run for run in recent if run.ended_at is not None), key=lambda run: run.ended_at, reverse=True)[:ENDS_SHOWN]
    started = {row.entry.id: row.entry for row in queue.rows if row.position is None}
    runs = [RunningRun(run.run_id, run.job, run.started_at, _timeout(paths, run, started.get(run.run_id))) for run in reversed(running)]
    recorded = {run.run_id for run in running}
    runs += [
        RunningRun(entry.id, entry.subject, None, _queued_timeout(entry))
        for entry in started.values()
        if entry.id not in recorded and entry.state == EntryState.STARTING
    ]
    return TopFrame(time.time(), gpus, runs, queue, ends)


@contextlib.contextmanager
def gpu_reads_kept_open() -> Iterator[None]:
    """NVML initialised once for all the frames, not at each: on a real driver without
    persistence mode an init can take a second. Without NVML, each frame says why."""
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(NvmlUnavailable):
            stack.enter_context(nvml_kept_open())
        yield


def _timeout(paths: Paths, run: RunRecord, entry: QueueEntry | None) -> int | None:
    if entry is not None:
        return _queued_timeout(entry)
    if kind_of(run.job) != JOB_KIND:
        return None  # a notebook or a shell: its own limits, not a run's timeout
    try:
        return load_job(paths.job_file(run.job), on_host=False).timeout
    except GpuAgentError:
        return None  # its job file is gone or broken: the run goes on with what it read


def _queued_timeout(entry: QueueEntry) -> int | None:
    held = entry.settings.get("timeout")
    if held is None:
        return None
    try:
        return BY_FIELD["timeout"].read(held, "timeout")
    except GpuAgentError:
        return None
