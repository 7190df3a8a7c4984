"""Asking systemd about calendar expressions: `systemd-analyze calendar` is systemd's own
parser, so an expression it accepts is one the timer accepts, and it is what tells that an
expression never elapses and when it fires next."""

import dataclasses
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gpuagent.core.errors import InvalidInput, SystemdError
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
