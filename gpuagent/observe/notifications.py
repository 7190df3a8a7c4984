"""Notifications, pure: who wants which event, the event of a run, and what is said.

Where they go lives in files beside the job files, readable by their owner only (the URLs
hold tokens): `notify.toml` for the host, `notify/JOB.toml` for one job.

    ping = "https://hc-ping.com/<uuid>"     # per job only: the dead man's switch
    [[notify]]
    url = "json://127.0.0.1:8080/hook"      # an Apprise URL: slack://, ntfy://, mailto://...
    on = ["failure", "recovered"]           # optional; default ["failure", "lost"]

Read strictly, like a job file: an unknown key or a value of the wrong type is an error
naming the file and the key. Nothing here looks at the host or imports Apprise.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_size
from gpuagent.core.values import visible
from gpuagent.runs.record import SKIPPED, RunRecord, Status, duration
from gpuagent.runs.runmetrics import format_value

FAILURE, SUCCESS, SKIP, RECOVERED, LOST, PREEMPTED = "failure", "success", "skip", "recovered", "lost", "preempted"
EVENTS = (FAILURE, SUCCESS, SKIP, RECOVERED, LOST, PREEMPTED)
DEFAULT_EVENTS = (FAILURE, LOST)
# The dead man's switch's own event: the /start ping before the first attempt.
START = "start"
NOTIFY, PING = "notify", "ping"  # the channels a notification goes through

TAIL_LINES = 20  # of the run's log tail, in a message
TAIL_LINE_CHARS = 500  # a longer line is cut: a 48 KiB progress line is no use in a chat
PING_BODY_BYTES = 100_000  # healthchecks.io keeps the first 100 kB of a ping's body

_READ_MORE = "docs/notifications.md"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_PING_URL = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """One notification URL and the events it wants, in EVENTS order."""

    url: str
    events: tuple[str, ...] = DEFAULT_EVENTS


@dataclass(frozen=True)
class NotifySettings:
    targets: tuple[Target, ...] = ()
    ping: str | None = None  # the dead man's switch's URL (per job only)

    def __bool__(self) -> bool:
        return bool(self.targets or self.ping)


@dataclass(frozen=True)
class Notification:
    """One send as history keeps it: a notification URL's message or a ping."""

    run_id: str | None  # None for the /start ping: no attempt has a record yet
    job: str
    channel: str  # NOTIFY or PING
    event: str  # one of EVENTS, or START
    sent_at: float
    delivered: bool
    detail: str | None  # what the receiver (or the lack of one) said; never the URL


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    kind: str  # Apprise's notify type: info, success, warning or failure


# --- reading and writing the files ----------------------------------------------------


def parse_events(text: str, label: str = "--notify-on") -> tuple[str, ...]:
    """A comma list of events (`failure,recovered`), in EVENTS order."""
    return _events([word.strip() for word in text.split(",") if word.strip()], label)


def _events(words: list[Any], label: str) -> tuple[str, ...]:
    unknown = [word for word in words if word not in EVENTS]
    if unknown:
        raise InvalidInput(f"{label}: unknown event {unknown[0]!r}", f"the events are {', '.join(EVENTS)}")
    if not words:
        raise InvalidInput(f"{label}: no events given", f"name at least one of {', '.join(EVENTS)} (default: {','.join(DEFAULT_EVENTS)})")
    return tuple(event for event in EVENTS if event in words)


def parse_notify_url(text: str, label: str = "--notify") -> str:
    """A URL in Apprise's form, by its shape only (whether Apprise can use it is the
    host's question). Errors name its scheme, never the URL: it holds tokens."""
    if not _URL.fullmatch(text) or not text.isprintable():
        raise InvalidInput(
            f"{label}: not a notification URL (scheme://...)",
            "write it as Apprise does: slack://..., ntfy://topic, mailto://..., json://host:port/path",
        )
    return text


def scheme(url: str) -> str:
    """What a message may say of a URL: its scheme."""
    return url.split("://", 1)[0].lower() if "://" in url else "?"


def parse_ping_url(text: str, label: str = "--ping") -> str:
    if not _PING_URL.fullmatch(text) or not text.isprintable():
        raise InvalidInput(f"{label}: a ping URL must be http:// or https://", "for example https://hc-ping.com/<uuid> (healthchecks.io)")
    return text.rstrip("/")


def parse_notify_file(text: str, source: Path, *, per_job: bool) -> NotifySettings:
    """A notify file's text; every problem is an InvalidInput naming the file and key."""
    import tomllib

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"{source}: not valid TOML: {err}", f"fix the file ({_READ_MORE})") from None
    allowed = ("ping", "notify") if per_job else ("notify",)
    for key in document:
        if key == "ping" and not per_job:
            raise InvalidInput(f"{source}: ping is per job, not host-wide", "put it in the job's file: gpuagent add JOB --replace --ping URL ...")
        if key not in allowed:
            raise InvalidInput(f"{source}: unknown key {key!r}", f"a notify file holds {' and '.join(allowed)} ({_READ_MORE})")
    ping = document.get("ping")
    if ping is not None:
        if not isinstance(ping, str):
            raise InvalidInput(f"{source}: ping must be a string, got {type(ping).__name__}", 'ping = "https://hc-ping.com/<uuid>"')
        ping = parse_ping_url(ping, f"{source}: ping")
    entries = document.get("notify", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise InvalidInput(f"{source}: notify must be a list of tables", '[[notify]] then url = "..." on its own line, once per URL')
    return NotifySettings(tuple(_target(entry, f"{source}: notify[{index}]") for index, entry in enumerate(entries)), ping)


def _target(entry: dict[str, Any], where: str) -> Target:
    unknown = sorted(set(entry) - {"url", "on"})
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r}", "a [[notify]] table holds url and on")
    url = entry.get("url")
    if not isinstance(url, str):
        raise InvalidInput(f"{where}.url: " + ("missing" if url is None else f"must be a string, got {type(url).__name__}"), 'url = "slack://..."')
    events = entry.get("on", list(DEFAULT_EVENTS))
    if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
        raise InvalidInput(f"{where}.on: must be a list of strings", f'for example on = ["failure", "recovered"]; the events are {", ".join(EVENTS)}')
    return Target(parse_notify_url(url, f"{where}.url"), _events(events, f"{where}.on"))


def notify_toml(job: str, settings: NotifySettings, written_by: str) -> str:
    """The notify file of `job` (or of the runs named queue/NAME), written by the command
    `written_by` (`add nightly`, `submit --name lr`)."""
    import tomli_w

    document: dict[str, Any] = {}
    if settings.ping:
        document["ping"] = settings.ping
    if settings.targets:
        document["notify"] = [{"url": target.url, "on": list(target.events)} for target in settings.targets]
    header = (
        f"# gpuagent notifications of {job}. The URLs hold tokens: keep this file 0600.\n"
        f"# Written by `gpuagent {written_by} --notify URL --notify-on EVENTS --ping URL`; edit it freely.\n"
    )
    return header + tomli_w.dumps(document)


# --- which event ----------------------------------------------------------------------


def run_event(run: RunRecord, exit_status: int) -> str:
    """What happened, as notifications name it: a skip that exits 0 is a skip; a VRAM
    skip under --vram-policy fail (exit 1) is a failure, like everything but success."""
    if run.status == Status.SUCCEEDED:
        return SUCCESS
    if run.status == Status.LOST:
        return LOST
    if run.status == Status.PREEMPTED:
        return PREEMPTED
    if run.status in SKIPPED and exit_status == 0:
        return SKIP
    return FAILURE


def ended_badly(previous: RunRecord | None) -> bool:
    """The job's previous finished run that was no skip did not succeed: a success now is
    a recovery."""
    return previous is not None and previous.status != Status.SUCCEEDED


def wanted(target: Target, happened: str, recovered: bool) -> str | None:
    """The event `target` is told of, or None. A URL that wants both success and
    recovered gets one message: recovered."""
    if happened == SUCCESS and recovered and RECOVERED in target.events:
        return RECOVERED
    return happened if happened in target.events else None


# --- what is said ---------------------------------------------------------------------

_HEADLINES = {
    FAILURE: "{job} failed: {status}",
    SUCCESS: "{job} succeeded",
    RECOVERED: "{job} recovered: succeeded after failing",
    SKIP: "{job} skipped: {status}",
    LOST: "{job}: its run was lost (the agent died)",
}
_KINDS = {FAILURE: "failure", LOST: "failure", SUCCESS: "success", RECOVERED: "success", SKIP: "warning"}


def compose(event: str, run: RunRecord, host: str, command: str = "gpuagent", previous: RunRecord | None = None) -> Message:
    """The message of `event` for `run` on `host`; `command` is how to call gpuagent there
    (`gpuagent --user` for a user's jobs), for the commands that look further."""
    headline = f"{run.job} failed" if event == FAILURE and run.status == Status.FAILED else _HEADLINES[event].format(job=run.job, status=run.status)
    title = f"[{host}] {headline}"
    attempt = f" (attempt {run.attempt}, a retry of {run.first_run_id})" if run.first_run_id else ""
    gpus = ", ".join(f"{name} ({uuid})" for name, uuid in zip(_gpu_names(run), run.gpu_uuids, strict=False)) or "-"
    lines = [
        f"job: {run.job}",
        f"run: {run.run_id}{attempt}",
        f"status: {run.status}" + (f": {visible(run.reason)}" if run.reason else ""),
        f"exit code: {'-' if run.exit_code is None else run.exit_code}",
        f"took: {duration(run.duration)}",
        f"host: {host}",
        f"gpu: {gpus}",
        f"peak vram: {'-' if run.peak_vram_bytes is None else format_size(run.peak_vram_bytes)}",
    ]
    if run.upstream_run_id:
        lines.append(f"started by: run {run.upstream_run_id} (it succeeded)")
    if run.metrics:
        lines.append("metrics: " + ", ".join(f"{name} {format_value(value)}" for name, value in run.metrics.items()))
    if run.metrics_problem:
        lines.append(visible(run.metrics_problem))
    if event == RECOVERED and previous is not None:
        lines.append(f"before: run {previous.run_id} ended {previous.status}")
    tail = tail_lines(run.log_tail)
    if tail:
        lines += ["", f"last {len(tail)} lines of output:", *tail]
    lines += ["", f"more: {command} history --run {run.run_id}"]
    if run.invocation_id:
        lines.append(f"      {command} logs {run.job} --run {run.run_id}")
    else:
        lines.append("      (started by hand: its output went to the terminal that ran it, not the journal)")
    return Message(title, "\n".join(lines), _KINDS[event])


def ping_body(run: RunRecord) -> bytes:
    """What the dead man's switch keeps of a run: how it ended, then its log tail (the
    end of it, when it is longer than the server keeps)."""
    head = f"{run.job} run {run.run_id}: {run.status}" + (f" ({visible(run.reason)})" if run.reason else "") + "\n"
    body = (head + ("\n" + visible(run.log_tail) + "\n" if run.log_tail else "")).encode("utf-8", errors="replace")
    return body if len(body) <= PING_BODY_BYTES else body[-PING_BODY_BYTES:]


def tail_lines(log_tail: str | None, count: int = TAIL_LINES) -> list[str]:
    """The last `count` lines of a run's output, as a message shows them: each control
    character written out (a chat or a mail client shown an escape sequence obeys it, or
    drops it), a long line cut."""
    lines = visible(log_tail or "").splitlines()[-count:]
    return [line if len(line) <= TAIL_LINE_CHARS else line[: TAIL_LINE_CHARS - 1] + "…" for line in lines]


def _gpu_names(run: RunRecord) -> list[str]:
    names = run.gpu_names.split(",") if run.gpu_names else []
    return names + ["?"] * (len(run.gpu_uuids) - len(names))
