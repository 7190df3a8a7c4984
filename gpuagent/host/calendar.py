"""Asking systemd about calendar expressions: `systemd-analyze calendar` is systemd's own
parser, so an expression it accepts is one the timer accepts, and it is what tells that an
expression never elapses and when it fires next."""

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gpuagent.core.errors import InvalidInput, SystemdError
from gpuagent.host.files import write_atomic
from gpuagent.jobs.schedule import CALENDAR_HINT, ZONE_HINT, Schedule

# Checking a job file's schedule from the epoch rather than from now: a one-shot spec such
# as '2026-01-01 02:00' that has already run must still load; one that names no real date
# ('*-02-30') must not.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_schedule(schedule: Schedule, label: str, zone_label: str, *, after: datetime | None = None) -> Schedule:
    """`schedule` with its expressions in systemd's normal form; InvalidInput (naming
    `label`, the option or key, or `zone_label`, its zone's) when systemd cannot read one,
    does not know its time zone, or one never elapses after `after` (None: now)."""
    if not schedule.on_calendar:
        return schedule
    value = schedule.value
    result = _systemd_analyze_calendar(schedule.on_calendar, iterations=1, after=after)
    if result is None:
        return schedule  # no systemd-analyze here: systemd checks them when it loads the timer
    if result.returncode != 0:
        if schedule.tz and not _systemd_knows_zone(schedule.tz):
            raise InvalidInput(f"{zone_label}: systemd does not know the time zone {schedule.tz!r}", ZONE_HINT)
        raise InvalidInput(f"{label}: systemd cannot read {value!r} ({_first_line(result.stderr)})", CALENDAR_HINT)
    calendars = _parse_calendar_output(result.stdout)
    for calendar in calendars:
        if not calendar.elapses:
            raise InvalidInput(
                f"{label}: {value!r} never elapses ({calendar.normalized}): no such date, or only past ones",
                "check the date exists (February has 28 or 29 days; April, June, September and November have 30) and lies in the future",
            )
    return dataclasses.replace(schedule, on_calendar=tuple(calendar.normalized for calendar in calendars))


def _systemd_knows_zone(zone: str) -> bool:
    """systemd reads time zones from its own look at the zone database: ask it of a plain
    expression in `zone`."""
    result = _systemd_analyze_calendar((f"*-*-* 00:00:00 {zone}",), iterations=1, after=None)
    return result is None or result.returncode == 0


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no message"


def next_elapses(schedule: Schedule, count: int, *, after: datetime | None = None) -> list[datetime]:
    """The next `count` times the timer fires, as UTC datetimes, strictly after `after`
    (default: now). Empty for --every: a monotonic timer's next run depends on its last."""
    if count < 1 or not schedule.on_calendar:
        return []
    result = _systemd_analyze_calendar(schedule.on_calendar, iterations=count, after=after)
    if result is None:
        raise SystemdError("systemd-analyze is not installed", "install systemd to compute calendar times")
    if result.returncode != 0:
        raise SystemdError(f"systemd-analyze calendar failed: {_first_line(result.stderr)}")
    # Several expressions (a cron day-of-month OR day-of-week) fire as one timer: a moment
    # both match is one run, hence the set.
    moments = {moment for calendar in _parse_calendar_output(result.stdout) for moment in calendar.elapses}
    return sorted(moments)[:count]


def remembered_next_elapses(schedule: Schedule, count: int, cache: Path) -> list[datetime]:
    """next_elapses(schedule, count) from now, kept in the JSON file `cache` so that the
    metrics written at each run's start and end do not start systemd-analyze each time.
    The next fires from now are a function of the expressions (the zone of a --tz job is
    part of them), the host's zone and the time: an entry is keyed by the first two and
    holds until the first of its fires passes. A changed schedule is another key; a
    cache that cannot be read or written only costs the process."""
    key = json.dumps([list(schedule.on_calendar), count, _host_zone()])
    now = time.time()
    entries = _read_elapse_cache(cache)
    remembered = entries.get(key)
    if remembered and remembered[0] > now:
        return [datetime.fromtimestamp(moment, tz=UTC) for moment in remembered]
    fires = next_elapses(schedule, count)
    # fires already passed are useless to everyone: this keeps the file as small as the jobs
    entries = {other: moments for other, moments in entries.items() if moments[0] > now}
    if fires:
        entries[key] = [fire.timestamp() for fire in fires]
    with contextlib.suppress(OSError):
        write_atomic(cache, json.dumps(entries))
    return fires


def _host_zone() -> list:
    """What says the host's time zone (systemd-analyze reads it as every program does): a
    changed TZ, a new /etc/localtime, or a zone database update is another key."""
    try:
        zone = os.path.realpath("/etc/localtime")
        changed = os.stat(zone).st_mtime
    except OSError:
        zone, changed = "", 0.0
    return [os.environ.get("TZ"), zone, changed]


def _read_elapse_cache(cache: Path) -> dict[str, list[float]]:
    try:
        entries = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {
        key: moments
        for key, moments in entries.items()
        if isinstance(moments, list) and moments and all(isinstance(moment, int | float) for moment in moments)
    }


@dataclass
class _Calendar:
    normalized: str
    elapses: list[datetime] = field(default_factory=list)


def _systemd_analyze_calendar(expressions: tuple[str, ...], *, iterations: int, after: datetime | None) -> subprocess.CompletedProcess[str] | None:
    """The one place gpuagent runs `systemd-analyze calendar`; None when it is not installed.
    --base-time makes elapses count from `after` instead of from now."""
    binary = shutil.which("systemd-analyze")
    if binary is None:
        return None
    command = [binary, "calendar", f"--iterations={iterations}"]
    if after is not None:
        command.append(f"--base-time=@{int(after.timestamp())}")
    # '--': a spec starting with '-' is a (bad) spec, not an option
    return subprocess.run([*command, "--", *expressions], capture_output=True, text=True, check=False)


_NORMALIZED_LINE = re.compile(r"\s*Normalized form: (.+)")
# 'Next elapse: Mon 2024-01-01 02:00:00 CET', 'Iter. #2: ...'; after each, when local time is
# not UTC, '(in UTC): Mon 2024-01-01 01:00:00 UTC'. 'Next elapse: never' has no date.
_ELAPSE_LINE = re.compile(r"\s*(Next elapse|Iter\. #\d+|\(in UTC\)): \S+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ", re.ASCII)


def _parse_calendar_output(stdout: str) -> list[_Calendar]:
    """One _Calendar per expression, in order, with its elapses in UTC."""
    calendars: list[_Calendar] = []
    for line in stdout.splitlines():
        if normalized := _NORMALIZED_LINE.fullmatch(line):
            calendars.append(_Calendar(normalized[1]))
        elif elapse := _ELAPSE_LINE.match(line):
            moment = datetime.strptime(elapse[2], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            elapses = calendars[-1].elapses
            # A local time is UTC unless a '(in UTC)' line follows to say otherwise.
            if elapse[1] == "(in UTC)":
                elapses[-1] = moment
            else:
                elapses.append(moment)
    return calendars
