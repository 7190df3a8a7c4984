"""Notifications and pings at a run's start and end, and for a run whose agent died.

Who wants what is in the host's notify file and the job's (observe/notifications.py); with neither
there, a run pays two stat() calls and nothing is imported. Everything sent is recorded in
history's notifications table, delivered or not. Nothing here can change a run: a send
that fails or hangs is logged and recorded, and every send of one moment shares one time
limit (gpuagent.toml's [notify] timeout).
"""

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gpuagent.core.errors import GpuAgentError, InvalidInput
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host.delivery import Delivery, check_address, deliver, ping_url, read_notify_file, usable_by_apprise
from gpuagent.host.historydb import STORE_ERRORS, HistoryStore
from gpuagent.host.hostconfig import DEFAULT_NOTIFY_TIMEOUT, read_host_config
from gpuagent.host.locks import flocked
from gpuagent.observe import notifications as model
from gpuagent.observe.notifications import (
    DEFAULT_EVENTS,
    LOST,
    NOTIFY,
    PING,
    START,
    SUCCESS,
    Notification,
    NotifySettings,
    Target,
    notify_toml,
    parse_events,
    parse_notify_url,
    parse_ping_url,
    scheme,
)
from gpuagent.runs.record import RunRecord, Status


@dataclass(frozen=True)
class _Wanted:
    targets: tuple[Target, ...]  # the host's, then the job's
    ping: str | None


def announce_start(paths: Paths, name: str, log: Log) -> None:
    """Before the first attempt: the dead man's switch's /start ping."""
    try:
        wanted = _wanted(paths, name, log, targets=False)
        if wanted.ping:
            _send(paths, name, None, START, [], ping_url(wanted.ping, "start"), b"", log)
    except Exception as err:  # noqa: BLE001 - a notification never changes a run
        log(f"the /start ping of {name} failed: {err!r}")


def announce_end(paths: Paths, name: str, run: RunRecord, exit_status: int, log: Log) -> None:
    """After the invocation's last record is final: notify whoever wants this event, and
    ping the dead man's switch (success when the run exits 0, /fail otherwise)."""
    try:
        wanted = _wanted(paths, name, log)
        if not wanted.targets and not wanted.ping:
            return
        happened = model.run_event(run, exit_status)
        previous = None
        if happened == SUCCESS and any(model.RECOVERED in target.events for target in wanted.targets):
            previous = _previous_outcome(paths, run, log)
        recovered = model.ended_badly(previous)
        sends = [(target, event) for target in wanted.targets if (event := model.wanted(target, happened, recovered))]
        # An overlap skip is another invocation's run going on: its /start was sent and
        # its end will be; a ping now would close its run early.
        ping = None
        if wanted.ping and run.status != Status.SKIPPED_OVERLAP:
            ping = ping_url(wanted.ping, "" if exit_status == 0 else "fail")
        if sends or ping:
            _send(paths, name, run, happened, sends, ping, model.ping_body(run), log, previous)
    except Exception as err:  # noqa: BLE001 - a notification never changes a run
        log(f"notifications of run {run.run_id} of {name} failed: {err!r}")


def announce_lost(paths: Paths, name: str, invocation_id: str | None, log: Log) -> int:
    """For the job's runs marked lost (of that systemd invocation when `invocation_id` is
    given, else its newest lost run) that nothing was sent about yet: notify `lost` to
    whoever wants it, ping /fail, and record both. Returns how many notifications and
    pings were sent (delivered or not); 0 for a run already notified."""
    return _announce_lost(paths, name, lambda store: store.lost_runs(name, invocation_id), log)


def announce_lost_runs(paths: Paths, name: str, run_ids: Sequence[str], log: Log) -> int:
    """announce_lost for the runs of `name` with these ids (those marked lost at boot)."""
    return _announce_lost(paths, name, lambda store: [run for run in map(store.get, run_ids) if run and run.status == Status.LOST], log)


def _announce_lost(paths: Paths, name: str, lost_runs: Callable[[HistoryStore], list[RunRecord]], log: Log) -> int:
    if not paths.history_db.exists():
        return 0
    wanted = _wanted(paths, name, log)
    sends = [(target, LOST) for target in wanted.targets if LOST in target.events]
    if not sends and not wanted.ping:
        return 0
    # The failure handler, the queue's dispatcher and the boot pass may each find one
    # lost run: under this lock, whoever comes second finds it notified, and sends nothing.
    with flocked(paths.runtime_dir / "lost-notify.lock", wait=True):
        try:
            with HistoryStore(paths.history_db) as store:
                runs = [run for run in lost_runs(store) if not store.has_notification(run.run_id)]
        except STORE_ERRORS as err:
            log(f"could not read the lost runs of {name} from history ({err})")
            return 0
        sent = 0
        for run in runs:
            try:
                ping = ping_url(wanted.ping, "fail") if wanted.ping else None
                sent += _send(paths, name, run, LOST, sends, ping, model.ping_body(run), log)
            except Exception as err:  # noqa: BLE001 - the handler goes on to the next run
                log(f"notifications of lost run {run.run_id} of {name} failed: {err!r}")
        return sent


def _wanted(paths: Paths, name: str, log: Log, *, targets: bool = True) -> _Wanted:
    """The host's targets and the job's, and the job's ping. A file that does not load is
    logged and left out: the run goes on, and doctor says what to fix."""
    found: list[Target] = []
    ping = None
    places = [(paths.host_notify_file, False)] if targets else []
    try:
        places.append((paths.notify_file(name), True))
    except GpuAgentError as err:  # a name that makes no path: its own file is not read, the host's is
        log(f"notifications of {name} from a file of its own are not sent: {err.message}")
    for path, per_job in places:
        try:
            loaded = read_notify_file(path, per_job=per_job)
        except GpuAgentError as err:
            log(f"notifications from {path} are not sent: {err.message}" + (f" ({err.hint})" if err.hint else ""))
            continue
        if loaded is None:
            continue
        if loaded.exposed:
            log(f"warning: {loaded.exposed}: chmod 600 {path}")
        found += loaded.settings.targets
        ping = ping or loaded.settings.ping
    return _Wanted(tuple(found), ping)


def _previous_outcome(paths: Paths, run: RunRecord, log: Log) -> RunRecord | None:
    """How the job's last finished, non-skip run before this invocation ended."""
    try:
        with HistoryStore(paths.history_db) as store:
            first = store.get(run.first_run_id) if run.first_run_id else run
            return store.previous_outcome(run.job, (first or run).started_at)
    except STORE_ERRORS as err:
        log(f"could not read {run.job}'s earlier runs ({err}): a success is not told as a recovery")
        return None


def _timeout(paths: Paths, log: Log) -> float:
    try:
        return read_host_config(paths).notify_timeout
    except GpuAgentError as err:
        log(f"{err.message}: notifications wait {DEFAULT_NOTIFY_TIMEOUT:g}s")
        return DEFAULT_NOTIFY_TIMEOUT


def _send(
    paths: Paths,
    name: str,
    run: RunRecord | None,
    happened: str,
    sends: list[tuple[Target, str]],
    ping: str | None,
    ping_body: bytes,
    log: Log,
    previous: RunRecord | None = None,
) -> int:
    """Send, wait (up to the time limit), log what failed, record all. Returns how many were sent."""
    host = os.uname().nodename
    command = "gpuagent --user" if paths.user_mode else "gpuagent"
    messages = [(target.url, model.compose(event, run, host, command, previous)) for target, event in sends] if run else []
    timeout = _timeout(paths, log)
    sent_at = time.time()
    notified, pinged = deliver(messages, [(ping, ping_body)] if ping else [], timeout)
    records = [_record(name, run, NOTIFY, event, sent_at, delivery) for (_, event), delivery in zip(sends, notified, strict=True)]
    records += [_record(name, run, PING, happened, sent_at, delivery) for delivery in pinged]
    which = f"run {run.run_id} of {name}" if run else name
    for number, delivery in enumerate(notified, start=1):
        if not delivery.delivered:
            log(f"notification {number} of {len(notified)} about {which} not delivered: {delivery.detail}")
    for delivery in pinged:
        if not delivery.delivered:
            log(f"{'/start ' if happened == START else ''}ping about {which} not delivered: {delivery.detail}")
    try:
        with HistoryStore(paths.history_db) as store:
            for record in records:
                store.save_notification(record)
    except STORE_ERRORS as err:
        log(f"could not record the notifications about {which} in history ({err})")
    return len(records)


def _record(name: str, run: RunRecord | None, channel: str, event: str, sent_at: float, delivery: Delivery) -> Notification:
    return Notification(run.run_id if run else None, name, channel, event, sent_at, delivery.delivered, delivery.detail)


def notify_file_text(name: str, written_by: str, urls: Sequence[str], events: str | None, ping: str | None) -> str | None:
    """The text of a notify file for --notify, --notify-on and --ping (a job's, or the
    runs a submit names), or None when none is given. Errors name a URL by its place and scheme, never its text."""
    if not urls and events is None and ping is None:
        return None
    if events is not None and not urls:
        raise InvalidInput("--notify-on: it says which events the --notify URLs get, and there is none", "add --notify URL")
    wants = DEFAULT_EVENTS if events is None else parse_events(events)
    targets = []
    for number, url in enumerate(urls, start=1):
        label = f"--notify URL {number}" if len(urls) > 1 else "--notify"
        check_address(parse_notify_url(url, label), label)
        if not usable_by_apprise(url):
            raise InvalidInput(
                f"{label}: Apprise cannot send to this {scheme(url)}:// URL (unknown service, or parts missing)",
                "check it against the service's page in Apprise's wiki (github.com/caronc/apprise/wiki)",
            )
        targets.append(Target(url, wants))
    settings = NotifySettings(tuple(targets), None if ping is None else check_address(parse_ping_url(ping), "--ping"))
    return notify_toml(name, settings, written_by)
