"""The only module that runs systemctl and journalctl."""

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gpuagent.core.errors import SystemdError

# What `systemctl show` is asked about a job's timer and its service.
TIMER_PROPERTIES = ("LoadState", "UnitFileState", "NextElapseUSecRealtime", "NextElapseUSecMonotonic", "LastTriggerUSec")
SERVICE_PROPERTIES = ("InvocationID", "ActiveState", "ExecMainStatus", "Result")
_RUNNING_STATES = ("active", "activating", "deactivating", "reloading")
# systemctl prints timestamps in the caller's time zone and locale: ask for UTC, in English.
_SHOW_ENV = {"TZ": "UTC", "LC_ALL": "C"}
_TIMESPAN_PART = re.compile(r"(\d+(?:\.\d+)?)(y|month|w|d|h|min|s|ms|us)", re.ASCII)
_TIMESPAN_SECONDS = {
    "y": 31557600,
    "month": 2629800,
    "w": 604800,
    "d": 86400,
    "h": 3600,
    "min": 60,
    "s": 1,
    "ms": 1e-3,
    "us": 1e-6,
}


def timer_unit_name(job: str) -> str:
    return f"gpuagent@{job}.timer"


def service_unit_name(job: str) -> str:
    return f"gpuagent@{job}.service"


def notebook_unit_name(notebook: str) -> str:
    return f"gpuagent-notebook@{notebook}.service"


def queued_unit_name(run_id: str) -> str:
    return f"gpuagent-queued@{run_id}.service"


def dispatch_unit_name(trigger: str) -> str:
    """The dispatcher started by `trigger`: the timer, or a submit (its first run's id)."""
    return f"gpuagent-dispatch@{trigger}.service"


DISPATCH_TIMER = "gpuagent-dispatch.timer"
TIMER_TRIGGER = "timer"  # the instance the timer starts (its Unit=)


@dataclass(frozen=True)
class TimerState:
    """A job's timer as systemd holds it."""

    loaded: bool  # systemd has a unit file for it
    enabled: bool
    next_elapse: datetime | None  # None: not scheduled (disabled, or its service is running)
    last_trigger: datetime | None  # when it last started the service; None: never


@dataclass(frozen=True)
class ServiceState:
    invocation_id: str | None  # of the latest start; None before the first
    active_state: str
    exit_status: int | None  # of the latest run's main process
    result: str  # "success", "exit-code", ...

    @property
    def running(self) -> bool:
        return self.active_state in _RUNNING_STATES


class Systemd:
    """systemctl/journalctl for the system manager, or with --user for the user's."""

    def __init__(self, user_mode: bool) -> None:
        self.scope = ["--user"] if user_mode else []

    def _run(self, tool: str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [self._tool(tool), *self.scope, *args], capture_output=True, text=True, env=None if env is None else {**os.environ, **env}
        )
        if check and result.returncode != 0:
            raise _failure(tool, args, result.returncode, result.stderr or result.stdout)
        return result

    @staticmethod
    def _tool(tool: str) -> str:
        path = shutil.which(tool)
        if path is None:
            raise SystemdError(f"{tool} not found: gpuagent needs systemd", "run gpuagent on a host booted with systemd")
        return path

    def require_running(self) -> None:
        """Fail before anything is written when there is no systemd to hand units to."""
        if not self.scope and not Path("/run/systemd/system").is_dir():
            raise SystemdError(
                "systemd is not running on this host (/run/systemd/system is missing)",
                "gpuagent schedules jobs with systemd timers; use a host booted with systemd",
            )

    def daemon_reload(self) -> None:
        self._run("systemctl", "daemon-reload")

    def enable_now(self, unit: str) -> None:
        self._run("systemctl", "enable", "--now", unit)

    def disable_now(self, unit: str) -> None:
        self._run("systemctl", "disable", "--now", unit)

    def enable(self, unit: str) -> None:
        """Enable without starting."""
        self._run("systemctl", "enable", unit)

    def disable(self, unit: str) -> None:
        """Disable without stopping."""
        self._run("systemctl", "disable", unit)

    def start(self, *units: str, unless_stopping: bool = False) -> None:
        """Start without waiting for the units to finish (a run can take hours).
        `unless_stopping`: refuse (SystemdError) rather than cancel a stop asked of a
        unit (by a person, or the shutdown): systemd's job mode `fail`."""
        self._run("systemctl", "start", "--no-block", *(("--job-mode=fail",) if unless_stopping else ()), *units)

    def shutting_down(self) -> bool:
        """The manager is stopping: the host shuts down or reboots."""
        return self._run("systemctl", "is-system-running", check=False).stdout.strip() == "stopping"

    def stop(self, unit: str, *, wait: bool = True) -> None:
        """Stop the unit and (`wait`) wait until it has: its agent records the end first."""
        self._run("systemctl", "stop", *(() if wait else ("--no-block",)), unit)

    def show(self, units: Sequence[str], properties: Sequence[str]) -> list[dict[str, str]]:
        """`properties` of each of `units`, in one `systemctl show` (one process for any
        number of units); a unit systemd does not know has LoadState=not-found."""
        if not units:
            return []
        self.require_running()
        result = self._run("systemctl", "show", "-p", ",".join(properties), "--", *units, env=_SHOW_ENV)
        return parse_show(result.stdout, len(units))

    def timer_states(self, timers: Sequence[str]) -> dict[str, TimerState]:
        now, now_monotonic = time.time(), time.monotonic()
        return {timer: timer_state(values, now, now_monotonic) for timer, values in zip(timers, self.show(timers, TIMER_PROPERTIES), strict=True)}

    def service_state(self, unit: str) -> ServiceState:
        [values] = self.show([unit], SERVICE_PROPERTIES)
        status = values.get("ExecMainStatus", "")
        return ServiceState(
            invocation_id=values.get("InvocationID") or None,
            active_state=values.get("ActiveState", ""),
            exit_status=int(status) if status.isdigit() else None,
            result=values.get("Result", ""),
        )

    def journal_command(
        self,
        unit: str,
        invocation_id: str | None = None,
        lines: int | None = None,
        since: datetime | None = None,
        follow: bool = False,
    ) -> list[str]:
        """The journalctl command line for a unit's journal, or one invocation's."""
        # --all: each line as the run printed it, escape sequences and all (journalctl would
        # drop colours and hide the rest as "[26B blob data]"); `logs` writes them out.
        args = [self._tool("journalctl"), *self.scope, "-u", unit, "--no-pager", "--all", "-o", "short-iso"]
        if invocation_id:
            args.append(f"_SYSTEMD_INVOCATION_ID={invocation_id}")
        if lines:
            args += ["-n", str(lines)]
        if since is not None:
            args.append(f"--since=@{int(since.timestamp())}")
        if follow:
            args.append("--follow")
        return args

    def stream(self, command: list[str]) -> Iterator[str]:
        """The lines `command` (from journal_command) prints, as they come: with --follow
        it never ends by itself; closing the iterator stops journalctl."""
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", env={**os.environ, "SYSTEMD_COLORS": "0"}
        )
        try:
            yield from process.stdout
            stderr = process.stderr.read()
            if process.wait() != 0:
                raise _failure("journalctl", command[1:], process.returncode, stderr)
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait()
            process.stdout.close()
            process.stderr.close()

    def invocation_messages(self, unit: str, invocation_id: str, after_cursor: str | None) -> tuple[list[str], str | None]:
        """The messages of one invocation of `unit` logged after `after_cursor` (all when
        None), and the cursor to ask from next time. (JSON, because `--show-cursor`
        fails when there is nothing new.)"""
        args = ["-q", "-u", unit, "--no-pager", "-o", "json", "--output-fields=MESSAGE", f"_SYSTEMD_INVOCATION_ID={invocation_id}"]
        if after_cursor:
            args.append(f"--after-cursor={after_cursor}")
        entries = [json.loads(line) for line in self._run("journalctl", *args).stdout.splitlines() if line.startswith("{")]
        return [_message(entry.get("MESSAGE")) for entry in entries], entries[-1]["__CURSOR"] if entries else after_cursor


def _message(value: str | list[int] | None) -> str:
    """journalctl's JSON holds a message that is not UTF-8 as a list of byte values."""
    if isinstance(value, list):
        return bytes(value).decode("utf-8", errors="replace")
    return value or ""


def _failure(tool: str, args: Sequence[str], returncode: int, output: str) -> SystemdError:
    detail = output.strip().splitlines()
    return SystemdError(
        f"{tool} {' '.join(args)} failed: {detail[-1] if detail else f'exit {returncode}'}",
        "is systemd running here? (`systemctl is-system-running`)",
    )


def parse_show(text: str, count: int) -> list[dict[str, str]]:
    """`systemctl show` output for `count` units: one block of Key=Value lines each, in
    the order they were named, separated by blank lines."""
    blocks = [block for block in text.split("\n\n") if block.strip()]
    if len(blocks) != count:
        raise SystemdError(f"systemctl show answered for {len(blocks)} units, asked about {count}")
    return [dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line) for block in blocks]


def timer_state(values: dict[str, str], now: float, now_monotonic: float) -> TimerState:
    """A TimerState from `systemctl show` values (printed in UTC). A monotonic elapse
    (--every) is on the monotonic clock: it becomes wall time as `systemctl list-timers`
    makes it, and the sooner of the two elapses is the next."""
    elapses = [moment for moment in (_timestamp(values.get("NextElapseUSecRealtime", "")),) if moment]
    monotonic = _timespan_seconds(values.get("NextElapseUSecMonotonic", ""))
    if monotonic:
        elapses.append(datetime.fromtimestamp(now + monotonic - now_monotonic, tz=UTC))
    return TimerState(
        loaded=values.get("LoadState") == "loaded",
        enabled=values.get("UnitFileState") == "enabled",
        next_elapse=min(elapses) if elapses else None,
        last_trigger=_timestamp(values.get("LastTriggerUSec", "")),
    )


def _timestamp(text: str) -> datetime | None:
    """'Fri 2026-11-27 04:03:15 UTC' -> that moment; '' or 'n/a' -> None."""
    parts = text.split()
    if len(parts) != 4 or parts[3] != "UTC":
        return None
    return datetime.strptime(f"{parts[1]} {parts[2]}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _timespan_seconds(text: str) -> float | None:
    """'1h 23min 26.729893s' -> seconds; '0', 'infinity' or '' -> None."""
    parts = _TIMESPAN_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text.replace(" ", ""):
        return None
    return sum(float(number) * _TIMESPAN_SECONDS[unit] for number, unit in parts) or None
