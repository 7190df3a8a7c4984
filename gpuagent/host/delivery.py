"""Notification files on disk, and sending: Apprise for notification URLs, urllib for the
dead man's switch's pings (healthchecks.io's protocol).

Apprise is imported only when something is sent, or when `add` checks a URL: it costs
about 0.2 s, and loading its plugins about 0.5 s more. Every send runs in a daemon thread
and is waited for until one deadline, so a receiver that refuses or hangs delays the
agent's exit by at most that long; a send still going then is abandoned, and dies with
the process.
"""

import contextlib
import os
import re
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gpuagent import __version__
from gpuagent.core.errors import InvalidInput
from gpuagent.host.files import write_atomic
from gpuagent.observe.notifications import Message, NotifySettings, parse_notify_file, scheme

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_USER_AGENT = f"gpuagent/{__version__}"
# A send's sockets give up this long after the deadline: the deadline, not a socket
# timeout racing it, decides what is late, and an abandoned send ends soon after.
_SOCKET_GRACE = 1.0


@dataclass(frozen=True)
class NotifyFile:
    path: Path
    settings: NotifySettings
    exposed: str | None  # why others may read it (its mode or owner), or None: private


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    detail: str  # never the URL: it holds tokens


# --- files ----------------------------------------------------------------------------


def read_notify_file(path: Path, *, per_job: bool) -> NotifyFile | None:
    """The file's settings, or None where there is none. One that others can read still
    works: `exposed` says why it should not be so."""
    try:
        info = path.stat()
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise InvalidInput(f"cannot read {path}: {err.strerror}", "run gpuagent as the user that runs the jobs (root for system jobs)") from None
    settings = parse_notify_file(text, path, per_job=per_job)
    for index, target in enumerate(settings.targets):
        check_address(target.url, f"{path}: notify[{index}].url")
    if settings.ping:
        check_address(settings.ping, f"{path}: ping")
    return NotifyFile(path, settings, exposure(path, info))


def exposure(path: Path, info: os.stat_result | None = None) -> str | None:
    """Why a file of notification URLs is not private to its owner, or None."""
    info = info or path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return f"{path} can be read or written by group or others (mode {mode:04o}), and its URLs hold tokens"
    if info.st_uid != os.geteuid():
        return f"{path} is owned by uid {info.st_uid}, not {os.geteuid()}, and its URLs hold tokens"
    return None


def write_notify_file(path: Path, text: str) -> None:
    """Written 0600, in a directory 0700 (made so if new)."""
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    write_atomic(path, text, mode=PRIVATE_FILE_MODE)


# --- addresses ------------------------------------------------------------------------


def check_address(url: str, label: str) -> str:
    """`url`, unless urllib reads in it an address no send can ever reach: an unclosed [
    (of an IPv6 address), a port beyond 1-65535 or not a number, or no host before a
    port. Said before anything is written (add, submit) and as each notify file is read,
    not at every run. The error names the URL by `label`, never its text: it holds tokens.
    Where a scheme's host part is no address (tgram://BOTTOKEN/...: the bot token's
    `123:ABC` reads as a host and a port), only a port of digits is judged: Apprise
    judges the rest as it instantiates the URL."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise InvalidInput(f"{label}: its [ (an IPv6 address) is never closed", _ADDRESS_HINT) from None
    address = scheme(url) in _ADDRESS_SCHEMES
    try:
        port = parts.port
    except ValueError:
        numeric = parts.netloc.rpartition(":")[2].isdigit()
        if address or numeric:
            what = "is beyond 65535" if numeric else "is not a number"
            raise InvalidInput(f"{label}: its port {what}", _ADDRESS_HINT) from None
        return url
    if port == 0:
        raise InvalidInput(f"{label}: its port is 0, which no server listens on", _ADDRESS_HINT)
    if not parts.hostname and (address or port is not None):
        raise InvalidInput(f"{label}: it names no host", _ADDRESS_HINT)
    return url


_ADDRESS_HINT = "write the server as host or host:port (a port from 1 to 65535; an IPv6 address in [ ])"


# --- Apprise --------------------------------------------------------------------------


def usable_by_apprise(url: str) -> bool:
    """Whether Apprise knows how to send to `url` (its scheme, and the parts that scheme
    needs). Imports Apprise."""
    import apprise

    _quiet_apprise()
    return apprise.Apprise.instantiate(url) is not None


def _quiet_apprise() -> None:
    import logging

    # Apprise logs through `logging`; with no handler, Python would print its warnings on
    # stderr as they come. What it says is read from each result and logged once, ours.
    logger = logging.getLogger("apprise")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _send_messages(sends: Sequence[tuple[str, Message]], deadline: float, done: Callable[[int, Delivery], None]) -> None:
    """Each (url, message) to its URL, each in its own thread; done(index, delivery) as each ends."""
    import apprise

    _quiet_apprise()
    try:
        # No service deadline: Apprise would then send from its own thread pool, whose
        # threads the interpreter waits for at exit. Ours are daemons, waited for until
        # the deadline only.
        asset = apprise.AppriseAsset(service_timeout=0)
    except Exception:  # noqa: BLE001 - an Apprise before 2.0 has no service_timeout
        asset = apprise.AppriseAsset()
    # Made here, one after another: the first one loads Apprise's plugins.
    services = [apprise.Apprise.instantiate(url, asset=asset) for url, _ in sends]
    for index, ((url, message), service) in enumerate(zip(sends, services, strict=True)):
        if service is None:
            done(index, Delivery(False, f"Apprise cannot use this {scheme(url)}:// URL"))
            continue
        left = max(deadline - time.monotonic(), 0) + _SOCKET_GRACE
        for attribute in ("socket_connect_timeout", "socket_read_timeout"):
            if isinstance(getattr(service, attribute, None), int | float):
                setattr(service, attribute, min(getattr(service, attribute), left))
        threading.Thread(target=_notify_one, args=(apprise, asset, service, url, message, index, done), daemon=True).start()


def _notify_one(apprise, asset, service, url: str, message: Message, index: int, done: Callable[[int, Delivery], None]) -> None:
    try:
        notifier = apprise.Apprise(asset=asset)
        notifier.add(service)
        # The body is plain text (log lines hold `*` and `_`): Apprise escapes it for
        # services that read Markdown or HTML.
        result = notifier.notify(body=message.body, title=message.title, notify_type=message.kind, body_format="text")
        said = [entry.message for entry in _log_entries(result) if entry.level in ("WARNING", "ERROR", "CRITICAL")]
        if result:
            done(index, Delivery(True, f"{scheme(url)}: delivered"))
        else:
            done(index, Delivery(False, _scrubbed(f"{scheme(url)}: " + ("; ".join(said) or "Apprise reports a failure"), url)))
    except Exception as err:  # noqa: BLE001 - a plugin's error is this URL's failure, not the run's
        done(index, Delivery(False, _scrubbed(f"{scheme(url)}: {type(err).__name__}: {err}", url)))


def _log_entries(result) -> list:
    logs = getattr(result, "logs", None)  # Apprise 2.x; 1.x returns a bool
    try:
        return list(logs()) if callable(logs) else []
    except Exception:  # noqa: BLE001 - detail only
        return []


# Schemes whose host part is a server's address; in the others (slack://TOKEN/...,
# tgram://BOTTOKEN/..., ntfy://TOPIC) it may be the secret itself.
_ADDRESS_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos", "http", "https"})


def _scrubbed(text: str, url: str) -> str:
    """`text` (what a receiver or library said) without any piece of the URL that may be
    a token: every part between its delimiters, but for the host of a scheme whose host
    is a server's address. It is recorded in history, which others may read."""
    address = None
    if scheme(url) in _ADDRESS_SCHEMES:
        with contextlib.suppress(ValueError):  # a port that is not a number
            address = urllib.parse.urlsplit(url).hostname
    pieces = {piece for piece in re.split(r"[/:@?&=#,;+\s]", url.split("://", 1)[-1]) if len(piece) >= 6 and piece.lower() != address}
    text = text.replace(url, "***")
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


# --- pings ----------------------------------------------------------------------------


def ping_url(base: str, suffix: str = "") -> str:
    """healthchecks.io's `<url>/start` and `<url>/fail`, before any query string."""
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + (f"/{suffix}" if suffix else "")))


def _ping(url: str, body: bytes, deadline: float) -> Delivery:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST", headers={"User-Agent": _USER_AGENT, "Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=max(deadline - time.monotonic(), 0) + _SOCKET_GRACE) as response:
            return Delivery(True, f"ping: HTTP {response.status}")
    except urllib.error.HTTPError as err:
        return Delivery(False, f"ping: HTTP {err.code} {err.reason}")
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return Delivery(False, _scrubbed(f"ping: {reason}", url))


# --- all of them, within one deadline -------------------------------------------------


def deliver(messages: Sequence[tuple[str, Message]], pings: Sequence[tuple[str, bytes]], timeout: float) -> tuple[list[Delivery], list[Delivery]]:
    """Send every (url, message) through Apprise and every (url, body) ping, all at once;
    return their deliveries, in order, within `timeout` seconds. One not done by then is
    not delivered ("no answer within ..."), and is left to die with the process."""
    deadline = time.monotonic() + timeout
    results: dict[tuple[str, int], Delivery] = {}
    lock = threading.Lock()
    finished = threading.Condition(lock)
    expected = len(messages) + len(pings)

    def done(key: tuple[str, int], delivery: Delivery) -> None:
        with finished:
            results.setdefault(key, delivery)
            finished.notify_all()

    def send_messages() -> None:
        try:
            _send_messages(messages, deadline, lambda index, delivery: done(("m", index), delivery))
        except Exception as err:  # noqa: BLE001 - Apprise missing or broken: every message fails, the run goes on
            for index, (url, _) in enumerate(messages):
                done(("m", index), Delivery(False, _scrubbed(f"Apprise failed: {type(err).__name__}: {err}", url)))

    if messages:
        threading.Thread(target=send_messages, daemon=True).start()
    for index, (url, body) in enumerate(pings):
        threading.Thread(target=lambda i=index, u=url, b=body: done(("p", i), _ping(u, b, deadline)), daemon=True).start()
    with finished:
        finished.wait_for(lambda: len(results) == expected, timeout=max(deadline - time.monotonic(), 0))
        late = Delivery(False, f"no answer within {timeout:g}s (the [notify] timeout)")
        # Anything that ends from now on is too late: the caller records what it has.
        for key in [("m", index) for index in range(len(messages))] + [("p", index) for index in range(len(pings))]:
            results.setdefault(key, late)
        return [results["m", index] for index in range(len(messages))], [results["p", index] for index in range(len(pings))]
