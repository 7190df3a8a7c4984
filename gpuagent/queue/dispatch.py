"""The dispatcher: one short process that starts the queued runs whose turn has come and
whose GPUs fit, then exits. Nothing stays resident while runs wait.

It runs at the end of every queued run (its agent calls it, and the unit's ExecStopPost
does for an agent that died), after each submit (gpuagent-dispatch@RUN_ID.service, an
instance of its own), and every few seconds while a run waits (gpuagent-dispatch.timer,
which it starts when a run must wait and stops when none does), to notice GPU memory
freed outside gpuagent.

One dispatcher works at a time (the queue lock). It decides under the host-wide admission
lock, so a scheduled run admitting itself and a queued run never count the same free
memory, and it claims each started run's memory (runs/reservations.py) until that run's
agent takes the claim over. A dispatcher killed half-way leaves the queue consistent:
an entry is `starting` only once its claim is written; one whose unit never came up goes
back to waiting, in its place, at the next dispatch.
"""

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host import dockerd
from gpuagent.host.historydb import STORE_ERRORS, HistoryStore
from gpuagent.host.hostconfig import read_host_config
from gpuagent.host.locks import flocked
from gpuagent.host.queuedb import QueueStore
from gpuagent.host.systemd import DISPATCH_TIMER, Systemd, queued_unit_name
from gpuagent.jobs.settings import DEFAULT_STOP_GRACE
from gpuagent.observe import metrics
from gpuagent.queue.entry import EntryState, QueueEntry, entry_job
from gpuagent.queue.order import Plan, QueueRules, plan
from gpuagent.queue.preemption import Preemption, preemption
from gpuagent.runs.record import RunRecord, Status
from gpuagent.runs.reservations import Reservations
from gpuagent.runs.vramneed import LEARN_FROM_RUNS, VramNeed, vram_need

# A unit started this long ago that systemd does not show running has failed to start.
START_GRACE_SECONDS = 30
MAX_PASSES = 10  # plans in one dispatch, while submits keep coming
LOST_REASON = "its agent ended without recording the run's end (killed, or the host went down); its container was reaped"


@dataclass(frozen=True)
class Dispatched:
    started: list[str]  # entry ids whose units were started
    lost: list[str]  # entries whose agent died: recorded lost
    returned: list[str]  # entries whose start never happened: back to waiting
    waiting: int  # entries left waiting


def rules(paths: Paths) -> QueueRules:
    config = read_host_config(paths)
    return QueueRules(config.starvation_bound, config.max_gpus_per_submitter)


def dispatch(paths: Paths, log: Log, *, ended: str | None = None, submitted: str | None = None) -> Dispatched:
    """Start what fits. `ended`: the entry whose unit just stopped (its ExecStopPost): if
    its agent did not close it, its run is recorded lost and its container reaped.
    `submitted`: the first run of the submit that started this dispatcher; when another
    dispatcher has started it meanwhile, there is nothing new to plan."""
    with flocked(paths.queue_lock, wait=True), QueueStore(paths.queue_db) as store:
        if submitted is not None and not _still_waiting(store, submitted):
            return Dispatched([], [], [], sum(entry.waiting for entry in store.entries()))
        systemd = Systemd(paths.user_mode)
        lost, returned = _tidy(paths, store, systemd, log, ended)
        started: list[str] = []
        planned: set[str] = set()
        # A submit's start of this service while it runs is folded into this run by
        # systemd: so plan again while runs it has not planned for have come in.
        for _ in range(MAX_PASSES):
            entries = store.entries()
            fresh = {entry.id for entry in entries if entry.waiting} - planned
            if not fresh:
                break
            planned |= fresh
            started += _start_what_fits(paths, store, systemd, entries, log)
        entries = store.entries()
        waiting = sum(entry.waiting for entry in entries)
        # A run left `starting` by a dispatcher killed half-way goes back to waiting at a
        # dispatch after START_GRACE_SECONDS: the timer runs for it too.
        pending = waiting or any(entry.state == EntryState.STARTING for entry in entries)
        _keep_timer(systemd, waiting=pending, holding=bool(entries), log=log)
    metrics.refresh(paths, log, jobs=[])  # the queue's gauges, as it stands now
    return Dispatched(started, lost, returned, waiting)


def _still_waiting(store: QueueStore, entry_id: str) -> bool:
    entry = store.get(entry_id)
    return entry is not None and entry.waiting


def dispatch_if_waiting(paths: Paths, log: Log) -> None:
    """After a job's run or a session ends: its GPUs may be what a waiting run needs. Costs
    one read of the queue when nothing waits; never fails the run that ended."""
    try:
        if paths.queue_db.exists():
            with QueueStore(paths.queue_db) as store:
                waiting = any(entry.waiting and not entry.scheduled for entry in store.entries())
            if waiting:
                dispatch(paths, log)
    except Exception as err:  # noqa: BLE001 - the next dispatch (timer, submit) starts them
        log(f"could not dispatch the queue: {err!r}")


def learned_needs(paths: Paths, entries: list[QueueEntry]) -> dict[str, VramNeed]:
    """Each entry's VRAM need; an auto one learned from its history names' recent runs."""
    peaks_of: Callable[[tuple[str, ...]], list[int]] = functools.cache(lambda names: _recent_peaks(paths, names))
    return {
        entry.id: vram_need(entry.min_free_vram, peaks_of(entry.learn_from) if entry.min_free_vram == "auto" else [], _whose(entry))
        for entry in entries
    }


def _whose(entry: QueueEntry) -> str:
    return " and ".join(entry.learn_from) or entry.subject


def _recent_peaks(paths: Paths, names: tuple[str, ...]) -> list[int]:
    if not paths.history_db.exists():
        return []
    try:
        with HistoryStore(paths.history_db, read_only=True) as history:
            return history.recent_peaks(names, LEARN_FROM_RUNS)
    except (*STORE_ERRORS, GpuAgentError):
        return []


def _start_what_fits(paths: Paths, store: QueueStore, systemd: Systemd, entries: list[QueueEntry], log: Log) -> list[str]:
    from gpuagent.host.nvml import NvmlUnavailable, read_gpus

    if not dockerd.answers():
        log("dockerd does not answer: the waiting runs stay queued until it does (the timer looks again)")
        return []
    needs = learned_needs(paths, entries)
    reservations = Reservations(paths.runtime_dir)
    with reservations.admission() as book:
        try:
            gpus = read_gpus() if any(entry.gpus for entry in entries if entry.waiting) else []
        except NvmlUnavailable as err:
            log(f"cannot read the GPUs ({err}): GPU runs wait")
            gpus = []
        decided: Plan = plan(entries, book.unclaimed(gpus), needs, time.time(), rules(paths))
        # A scheduled run's own agent starts it when it next looks (queue/turns.py): the
        # plan kept its GPUs from the runs behind it, and the next plan will again.
        starts = [start for start in decided.starts if not start.entry.scheduled]
        for start in starts:
            # The claim holds the memory until the run's agent takes it over; the entry
            # says `starting` only once the claim is saved with it (the block's end).
            book.claim(start.entry.id, start.gpu_uuids, start.need.bytes or 0, start.entry.subject, pending=True)
        with store.transaction():
            for start in starts:
                store.set_state(start.entry.id, EntryState.STARTING, gpu_uuids=start.gpu_uuids)
        taking = preemption(entries, decided, needs, time.time())
        if taking is not None:
            for victim in taking.victims:
                store.mark_preempted(victim.id)
    if taking is not None:
        _preempt(systemd, taking, log)
    started = []
    for start in starts:
        unit = queued_unit_name(start.entry.id)
        try:
            systemd.start(unit)
        except GpuAgentError as err:
            log(f"could not start {unit}: {err.message}; it waits again")
            store.requeue(start.entry.id)
            reservations.release(start.entry.id)
            continue
        log(f"started {start.entry.subject} run {start.entry.id}: {start.reason}")
        started.append(start.entry.id)
    return started


def _preempt(systemd: Systemd, taking: Preemption, log: Log) -> None:
    """Stop the victims through their units: each agent stops its container with its stop
    grace, records the run preempted and puts it back (queue/agent.py); its unit's end
    dispatches again, and the run that preempted is first in line."""
    for victim in taking.victims:
        log(
            f"preempting {victim.subject} run {victim.id} (priority {victim.priority}) for {taking.entry.subject} run {taking.entry.id} (priority {taking.entry.priority})"
        )
        try:
            systemd.stop(queued_unit_name(victim.id), wait=False)
        except GpuAgentError as err:
            log(f"could not stop {queued_unit_name(victim.id)}: {err.message}")


def _tidy(paths: Paths, store: QueueStore, systemd: Systemd, log: Log, ended: str | None) -> tuple[list[str], list[str]]:
    """Close the entries whose agent is gone: a run that started is recorded lost (its
    container reaped); one that never started waits again, in its place."""
    for entry in store.entries():
        if entry.scheduled and not _alive(entry.agent_pid):
            store.remove(entry.id)  # its job's agent died while it waited: it waits no more
    started = [entry for entry in store.entries() if not entry.waiting]
    if not started:
        return [], []
    units = [queued_unit_name(entry.id) for entry in started]
    try:
        states = systemd.show(units, ("ActiveState",))
    except GpuAgentError as err:
        log(f"cannot ask systemd about the queued runs' units ({err.message}): left as they are")
        return [], []
    lost, returned = [], []
    now = time.time()
    for entry, state in zip(started, states, strict=True):
        active = state.get("ActiveState") in ("active", "activating", "deactivating", "reloading")
        if active and entry.id != ended:
            continue
        if entry.state == EntryState.STARTING and entry.id != ended and now - entry.state_at < START_GRACE_SECONDS:
            continue  # its unit is on its way up
        if entry.agent_pid is None and not _has_record(paths, entry.id):
            store.requeue(entry.id)
            Reservations(paths.runtime_dir).release(entry.id)
            log(f"{entry.subject} run {entry.id} did not start: it waits again, in its place")
            returned.append(entry.id)
            continue
        _record_lost(paths, entry, log)
        store.remove(entry.id)
        Reservations(paths.runtime_dir).release(entry.id)
        lost.append(entry.id)
    return lost, returned


def _has_record(paths: Paths, run_id: str) -> bool:
    if not paths.history_db.exists():
        return False
    with HistoryStore(paths.history_db, read_only=True) as history:
        return history.get(run_id) is not None


def _record_lost(paths: Paths, entry: QueueEntry, log: Log) -> None:
    from gpuagent.host.dockerd import LABEL_RUN, Docker
    from gpuagent.observe import announce

    try:
        docker = Docker()
        for container in docker.job_containers(entry.subject):
            if container.labels.get(LABEL_RUN) == entry.id:
                log(f"reaping container {container.name} of lost run {entry.id}")
                docker.stop(container, grace=_stop_grace(entry))
                docker.remove(container)
    except GpuAgentError as err:
        log(f"could not look for the container of lost run {entry.id}: {err.message}")
    with HistoryStore(paths.history_db) as history:
        run = history.get(entry.id)
        if run is not None and run.status != Status.RUNNING:
            return  # its agent recorded its end; only the entry was left
        history.save(_lost(entry, run))
    log(f"{entry.subject} run {entry.id} marked lost: {LOST_REASON}")
    announce.announce_lost(paths, entry.subject, None, log)


def _stop_grace(entry: QueueEntry) -> int:
    try:
        return entry_job(entry.name, entry.settings).stop_grace
    except GpuAgentError:
        return DEFAULT_STOP_GRACE


def _lost(entry: QueueEntry, run: RunRecord | None) -> RunRecord:
    now = time.time()
    if run is None:  # its agent died before it recorded the run
        from gpuagent.runs.attempt import new_record  # the rare path: a dispatch need not load the run's machinery

        run = dataclasses.replace(
            new_record(entry.subject),
            run_id=entry.id,
            invocation_id=None,
            agent_pid=entry.agent_pid,
            started_at=entry.state_at,
            gpu_uuids=entry.gpu_uuids,
            image=entry.settings.get("image"),
            **entry.run_fields(),
        )
    return dataclasses.replace(run, status=Status.LOST, reason=LOST_REASON, ended_at=now)


def _keep_timer(systemd: Systemd, *, waiting: bool, holding: bool, log: Log) -> None:
    """The timer runs while runs wait, and is enabled while the queue holds any (so that
    a boot looks at the queue)."""
    try:
        [state] = systemd.show([DISPATCH_TIMER], ("UnitFileState", "ActiveState"))
        enabled, active = state.get("UnitFileState") == "enabled", state.get("ActiveState") == "active"
        if holding and not enabled:
            systemd.enable(DISPATCH_TIMER)
        if not holding and enabled:
            systemd.disable(DISPATCH_TIMER)
        if waiting and not active:
            systemd.start(DISPATCH_TIMER)
        if not waiting and active:
            systemd.stop(DISPATCH_TIMER, wait=False)
    except GpuAgentError as err:
        log(f"could not set {DISPATCH_TIMER} ({err.message}): waiting runs start when another run ends")


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    return True
