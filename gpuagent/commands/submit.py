"""gpuagent submit: queue a run (or a sweep of runs), validated as `add` validates a job,
then hand the queue to its dispatcher and return; with --wait, follow the run.

A refused submit writes nothing: every run of a sweep is built and checked before any is
queued, and the queue takes all of them or none (host/queuedb.py).
"""

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.core.values import parse_name
from gpuagent.host.files import write_atomic
from gpuagent.host.procs import invoking_user
from gpuagent.host.queuedb import QueueStore
from gpuagent.host.systemd import Systemd, dispatch_unit_name, queued_unit_name
from gpuagent.jobs.catalog import load_job, verify_environment
from gpuagent.jobs.job import options_over
from gpuagent.jobs.units import missing_units
from gpuagent.queue.entry import EntryState, QueueEntry, entry_job, submit_form
from gpuagent.queue.sweeps import parse_sweeps, sweep_env
from gpuagent.runs.record import RunKind, RunRecord, subject

if TYPE_CHECKING:  # a submit that does not --wait follows nothing
    from gpuagent.runs.following import RunEvent

DEFAULT_NAME = "run"
POLL_SECONDS = 0.5
MAX_DEDUPE_KEY = 200


@dataclass(frozen=True)
class Submitted:
    entries: list[QueueEntry]
    group_id: str | None  # a sweep's


def submit(
    paths: Paths,
    name: str | None,
    like: str | None,
    options: Mapping[str, Any],
    command: Sequence[str] | None,
    *,
    dedupe: str | None = None,
    sweeps: Sequence[str] = (),
    notify: Sequence[str] = (),
    notify_on: str | None = None,
    ping: str | None = None,
) -> Submitted:
    """`options` map SUBMIT_FIELDS to their values as a job file holds them (None: not
    given); those given win over the --like job's (`-e` and `-v` add to its). `notify`,
    `notify_on` and `ping` set who is told about the runs named queue/NAME (their notify
    file: the last submit that gives them wins)."""
    if like is not None:
        parse_name(like, "--like")
    name = parse_name(name if name is not None else like or DEFAULT_NAME, "--name")  # --name "" is refused, not the default
    sweep = parse_sweeps(sweeps)
    key = _dedupe_key(dedupe)
    settings = options_over({} if like is None else submit_form(load_job(paths.job_file(like), on_host=False)), options)
    if command:
        settings["command"] = list(command)
    submitter, now = invoking_user(), time.time()
    group_id = _token(4) if sweep.names else None
    learn_from = (subject(RunKind.QUEUED, name),) + (() if like is None else (like,))
    entries = [_entry(name, settings, params, now, submitter, key, group_id, learn_from, index) for index, params in enumerate(sweep.combinations())]
    notify_text = _notify_text(name, notify, notify_on, ping) if notify or notify_on is not None or ping is not None else None
    # Everything is checked: only now is anything written.
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    units = missing_units(paths)
    for path, text in units.items():
        write_atomic(path, text)
    if units:
        systemd.daemon_reload()
    with QueueStore(paths.queue_db) as store:
        store.add(entries)
    if notify_text is not None:
        from gpuagent.host.delivery import write_notify_file

        write_notify_file(paths.notify_file(subject(RunKind.QUEUED, name)), notify_text)
    # A dispatcher of its own: a start folded into a dispatcher already past its last
    # look at the queue would leave these runs to the timer.
    systemd.start(dispatch_unit_name(entries[0].id))
    return Submitted(entries, group_id)


def _entry(
    name: str,
    settings: dict[str, Any],
    params: dict[str, str],
    now: float,
    submitter: str,
    dedupe: str | None,
    group_id: str | None,
    learn_from: tuple[str, ...],
    index: int,
) -> QueueEntry:
    """One run's entry, its settings checked as a job file's are (errors name the option)."""
    if params:
        settings = {**settings, "env": {**settings.get("env", {}), **sweep_env(params)}}
    job = entry_job(name, settings)
    verify_environment(job)
    return QueueEntry(
        id=_token(6),
        name=name,
        submitter=submitter,
        submitted_at=now,
        order_at=now + index * 1e-6,  # a sweep's runs in the order they were listed
        priority=job.priority,
        settings=settings,
        gpus=job.gpus,
        gpu_ids=job.gpu_ids,
        min_free_vram=job.min_free_vram,
        max_gpu_util=job.max_gpu_util,
        exclusive=job.exclusive,
        learn_from=learn_from,
        dedupe_key=None if dedupe is None else dedupe + "".join(f" {k}={v}" for k, v in params.items()),
        group_id=group_id,
        params=params or None,
        state=EntryState.WAITING,
        state_at=now,
        preempt=job.preempt,
    )


def _token(size: int) -> str:
    """A random id of `size` bytes, in hex (what secrets.token_hex does, without importing
    hashlib: 3 ms of every submit)."""
    return os.urandom(size).hex()


def _notify_text(name: str, notify: Sequence[str], notify_on: str | None, ping: str | None) -> str | None:
    from gpuagent.observe.announce import notify_file_text  # Apprise's checks: only when asked

    return notify_file_text(subject(RunKind.QUEUED, name), f"submit --name {name}", notify, notify_on, ping)


def _dedupe_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > MAX_DEDUPE_KEY or not key.isprintable():
        raise InvalidInput(f"--dedupe: {key!r} is not a key", f"give 1 to {MAX_DEDUPE_KEY} printable characters, e.g. --dedupe train-v3")
    return key


def follow_queued(paths: Paths, entry: QueueEntry) -> "Iterator[RunEvent]":
    """The submitted run's place in the queue while it waits, then what its unit does
    (trigger.py's events), ending with RunEnded."""
    from gpuagent.queue.standing import queue_view  # only --wait reads the queue's order
    from gpuagent.runs.following import RunEnded, RunQueued, follow_unit

    said = None
    while True:
        view = queue_view(paths, read_gpus=True)
        row = next((row for row in view.rows if row.entry.id == entry.id), None)
        if row is None or not row.entry.waiting:
            break
        event = RunQueued(row.position, row.why or ("its turn: it starts now" if row.starts_next else "waiting for the next dispatch"))
        if event != said:
            yield event
            said = event
        time.sleep(POLL_SECONDS)
    systemd = Systemd(paths.user_mode)
    unit = queued_unit_name(entry.id)
    invocation = _invocation(systemd, unit)
    if invocation is None:  # cancelled before its unit started
        yield RunEnded(_record(paths, entry.id), None)
        return
    yield from follow_unit(systemd, unit, entry.gpus > 0, invocation, lambda: _record(paths, entry.id))


def _invocation(systemd: Systemd, unit: str) -> str | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = systemd.service_state(unit)
        if state.invocation_id:
            return state.invocation_id
        time.sleep(POLL_SECONDS / 5)
    return None


def _record(paths: Paths, run_id: str) -> RunRecord | None:
    from gpuagent.host.historydb import existing_history  # --wait reads history; a submit alone does not

    with existing_history(paths) as store:
        return None if store is None else store.get(run_id)
