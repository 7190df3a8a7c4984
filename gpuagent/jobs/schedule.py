"""When a job runs: the four ways a person can say it, turned into what a systemd timer needs.

  --at 02:00 / --at 'Mon..Fri 02:00'   daily or on some weekdays, at a time of day
  --on SPEC                            any systemd calendar expression (man systemd.time)
  --every 6h                           monotonic: that long after the last run started
  --cron '0 2 * * 1-5'                 a standard 5-field crontab schedule

Calendar kinds become OnCalendar= expressions; --every becomes an interval for
OnUnitActiveSec=. A calendar schedule may be read in a time zone of its own (--tz
Asia/Shanghai, cron's `CRON_TZ=` prefix, or a zone ending an --on expression, all the
same thing): each expression then ends with the zone, as systemd writes it. Everything
here is pure but the look-up of a zone in the host's time zone database: whether systemd
reads an expression, and whether it ever elapses, is asked of systemd itself by
host/calendar.py.
"""

import itertools
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration, parse_duration

KINDS = ("at", "on", "every", "cron")
# The `add` option of each kind, and the job file key of the same name.
KIND_HELP = {
    "at": "Schedule: daily at a time, e.g. 02:00 or 'Mon..Fri 02:00'.",
    "on": "Schedule: any systemd calendar expression, e.g. 'Sun *-*-* 03:00'.",
    "every": "Schedule: an interval from the last start, e.g. 6h (1m to 31d).",
    "cron": "Schedule: a 5-field cron expression, e.g. '0 2 * * 1-5'.",
}
# The `add` option and job file key that reads a calendar schedule in a time zone.
ZONE_KEY = "tz"
ZONE_HELP = "Time zone the schedule's times are in, e.g. Asia/Shanghai (default: the host's); not for --every."
TABLE_KEYS = (*KINDS, ZONE_KEY)

# The schedule of a job that only runs after another's successes (--after): no timer.
NO_TIMER_KIND = "none"

# --every bounds. systemd timers are only accurate to AccuracySec= (1min by default), so a
# shorter interval would not be honoured; a monotonic timer counts from the last run and
# loses that count at reboot, so very long intervals belong to calendar schedules.
MIN_EVERY_SECONDS = 60
MAX_EVERY_SECONDS = 31 * 86400


@dataclass(frozen=True)
class Schedule:
    kind: str  # "at" | "on" | "every" | "cron": what the user chose; "none" for NO_TIMER
    value: str  # what the user typed, less the zone it named (that is `tz`); stored in the job file, so it round-trips
    on_calendar: tuple[str, ...]  # OnCalendar= expressions (systemd's normal form once checked); empty for "every"
    interval_seconds: int | None  # for "every" only
    tz: str | None = None  # the time zone of a calendar schedule; None: the host's

    @property
    def has_timer(self) -> bool:
        """Whether the job has a timer of its own (NO_TIMER: it only runs --after another)."""
        return self.kind != NO_TIMER_KIND

    def describe(self) -> str:
        """Short words for humans: 'daily at 02:00', 'every 6h', 'cron 0 2 * * 1-5',
        'daily at 02:00 in Asia/Shanghai'."""
        return self._words() + (f" in {self.tz}" if self.tz else "")

    def _words(self) -> str:
        if not self.has_timer:
            return "no timer"
        if self.kind == "at":
            weekdays, clock = _parse_at(self.value, "--at")
            return f"{weekdays or 'daily'} at {clock.removesuffix(':00')}"
        if self.kind == "every":
            return f"every {format_duration(self.interval_seconds)}"
        return f"{self.kind} {self.value}"


NO_TIMER = Schedule(NO_TIMER_KIND, "", (), None)


def parse_schedule(
    *, at: str | None = None, on: str | None = None, every: str | None = None, cron: str | None = None, tz: str | None = None
) -> Schedule:
    """The schedule the command line asked for; exactly one option must be given, and
    --tz may go with a calendar one."""
    given = {kind: value for kind, value in zip(KINDS, (at, on, every, cron), strict=True) if value is not None}
    if not given and tz is None:
        return NO_TIMER  # a job that only runs --after another: jobs/job.py checks it does
    if len(given) != 1:
        found = f"got {' and '.join(f'--{kind}' for kind in given)}" if given else "got none"
        raise InvalidInput(
            f"give exactly one of --at, --on, --every, --cron ({found})",
            "for example --at 02:00 (daily), --on 'Sun 03:00', --every 6h or --cron '0 2 * * 1-5'",
        )
    [(kind, value)] = given.items()
    return _build(kind, value, f"--{kind}", tz, f"--{ZONE_KEY}")


def to_toml(schedule: Schedule) -> dict[str, str]:
    """The job file's schedule table: the kind, holding what the user typed, and the zone
    when there is one."""
    if not schedule.has_timer:
        return {}
    return {schedule.kind: schedule.value, **({ZONE_KEY: schedule.tz} if schedule.tz else {})}


def schedule_from_toml(table: dict) -> Schedule:
    """The inverse of to_toml, validated again: job files can be edited by hand."""
    unknown = [key for key in table if key not in TABLE_KEYS]
    if unknown:
        raise InvalidInput(f"schedule: unknown key {unknown[0]!r}", _TOML_HINT)
    kinds = [key for key in table if key in KINDS]
    if not table:
        return NO_TIMER
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise InvalidInput(f"schedule: give exactly one of at, on, every, cron (found {found})", _TOML_HINT)
    labels = {key: f"schedule.{key}" for key in table}
    for key, value in table.items():
        if not isinstance(value, str):
            raise InvalidInput(f"{labels[key]}: must be a string, got {value!r}", _TOML_HINT)
    [kind] = kinds
    return _build(kind, table[kind], labels[kind], table.get(ZONE_KEY), f"schedule.{ZONE_KEY}")


_TOML_HINT = 'write one of: at = "02:00", on = "Sun *-*-* 03:00", every = "6h", cron = "0 2 * * 1-5"; and, if you want, tz = "Asia/Shanghai"'


# ---------------------------------------------------------------------- building schedules


def _build(kind: str, value: str, label: str, tz: str | None, zone_label: str) -> Schedule:
    """A Schedule read from `value` in zone `tz` (None: none given); `label` and
    `zone_label` name the options or keys in errors. Its calendar expressions are as
    gpuagent wrote them: host.calendar.check_schedule asks systemd whether they are valid
    and elapse, and for its normal form."""
    if not value.isprintable():
        # the text reaches the timer file: a line break would smuggle in settings
        raise InvalidInput(f"{label}: {value!r} contains control characters", CALENDAR_HINT)
    value, tz = _one_zone(kind, value, label, tz, zone_label)
    if kind == "every":
        if tz is not None:
            raise InvalidInput(
                f"{zone_label}: an --every schedule has no time zone: it counts from the last start, not by the clock",
                f"drop {zone_label}: a time zone goes with a calendar schedule (at, on or cron)",
            )
        return Schedule(kind, value, (), _parse_every(value, label))
    expressions = _CALENDAR_PARSERS[kind](value, label)
    return Schedule(kind, value, tuple(f"{expression} {tz}" if tz else expression for expression in expressions), None, tz)


def _parse_every(value: str, label: str) -> int:
    seconds = parse_duration(value, option=label)
    if seconds < MIN_EVERY_SECONDS:
        raise InvalidInput(
            f"{label}: {value!r} is shorter than 1 minute",
            "systemd timers fire to within a minute (AccuracySec=1min), so write 1m or more",
        )
    if seconds > MAX_EVERY_SECONDS:
        raise InvalidInput(
            f"{label}: {value!r} is longer than 31 days",
            "for long periods use a calendar schedule, e.g. --on monthly or --on 'Sun *-*-* 03:00'",
        )
    return seconds


def _on_calendar(value: str, label: str) -> tuple[str, ...]:
    return (value,)


CALENDAR_HINT = (
    "write a systemd calendar expression, e.g. daily, 'Mon..Fri *-*-* 02:00', '*:0/15' "
    "or '2026-12-24 18:00' (see man systemd.time; `systemd-analyze calendar SPEC` checks one)"
)


# -------------------------------------------------------------------------- time zones

# The shape of an IANA name (Asia/Shanghai, Etc/GMT+5, UTC): letters first, so that no
# date, time or weekday range ending an --on expression reads as one.
ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*", re.ASCII)
# cronie's prefix that puts a cron line in a zone: 'CRON_TZ=Asia/Shanghai 0 2 * * *'.
CRON_TZ_PREFIX = "CRON_TZ="
ZONE_HINT = "write an IANA time zone name, e.g. Asia/Shanghai, Europe/Berlin or UTC (`timedatectl list-timezones` lists them)"


def parse_zone(text: str, label: str) -> str:
    """A time zone name this host's time zone database holds."""
    if not is_zone(text):
        raise InvalidInput(f"{label}: unknown time zone {text!r}", ZONE_HINT)
    return text


def is_zone(text: str) -> bool:
    # 'localtime' is in the database as a link to the host's own zone: not a zone to name
    if not ZONE_NAME.fullmatch(text) or text == "localtime":
        return False
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _one_zone(kind: str, value: str, label: str, tz: str | None, zone_label: str) -> tuple[str, str | None]:
    """(`value` less the zone it names, the schedule's zone): the zone of `tz` or the one in
    `value` (cron's 'CRON_TZ=ZONE ' prefix, or a zone ending an --on expression). Both
    may be given when they agree."""
    value, named = zone_in_value(kind, value)
    if named is not None:
        parse_zone(named, label)
    if tz is not None:
        parse_zone(tz, zone_label)
        if named not in (None, tz):
            raise InvalidInput(f"{label} is in time zone {named} but {zone_label} says {tz}", f"give the zone once, e.g. {zone_label} {tz}")
    return value, tz or named


def zone_in_value(kind: str, value: str) -> tuple[str, str | None]:
    """(`value` less its zone, that zone or None)."""
    if kind == "cron" and value.lstrip().startswith(CRON_TZ_PREFIX):
        prefix, _, rest = value.lstrip().partition(" ")
        return rest.strip(), prefix.removeprefix(CRON_TZ_PREFIX)
    if kind == "on":
        spec, _, last = value.strip().rpartition(" ")
        # a name with a '/' is meant as a zone, known or not; a plain word must be one
        if spec and ZONE_NAME.fullmatch(last) and ("/" in last or is_zone(last)):
            return spec.rstrip(), last
    return value, None


# ------------------------------------------------------------------------ calendar text

# systemd's weekday names in its order: weeks start on Monday, and ranges may not wrap
# past Sunday.
SYSTEMD_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAY_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES = {
    **{name.lower(): index for index, name in enumerate(SYSTEMD_WEEKDAYS)},
    **{name: index for index, name in enumerate(_WEEKDAY_FULL_NAMES)},
}


def join_runs(values: list[int], spell=str, through: str = "..") -> str:
    """Sorted values as systemd writes them: a run of three or more as 'a..b', others listed.
    systemd keeps a list as written, so writing it the way it does keeps our text normal.
    (cron writes a run 'a-b': `through`.)"""
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    parts = []
    for first, last in runs:
        if last - first >= 2:
            parts.append(f"{spell(first)}{through}{spell(last)}")
        else:
            parts.extend(spell(value) for value in range(first, last + 1))
    return ",".join(parts)


def _expression(weekdays: str, date: str, clock: str) -> str:
    """'Mon..Fri *-*-* 02:00:00', or '*-*-* 02:00:00' when weekdays is '' (any day)."""
    return f"{weekdays} {date} {clock}".lstrip()


def _weekdays_text(days: set[int]) -> str:
    """OnCalendar= weekday prefix for systemd weekday indexes (0 = Monday); '' for every day."""
    return "" if len(days) == 7 else join_runs(sorted(days), SYSTEMD_WEEKDAYS.__getitem__)


def _number_text(values: set[int], low: int, high: int) -> str:
    """One OnCalendar= date or time component: '*', '00/15', '05..45/10', '01..05,10'."""
    ordered = sorted(values)
    if ordered == list(range(low, high + 1)):
        return "*"
    steps = {b - a for a, b in itertools.pairwise(ordered)}
    if len(ordered) >= 3 and len(steps) == 1 and steps != {1}:
        [step] = steps
        first, last = ordered[0], ordered[-1]
        # systemd's 'a/n' repeats up to the field's end, so it fits only when nothing more would
        if last + step > high:
            return f"{first:02d}/{step}"
        return f"{first:02d}..{last:02d}/{step}"
    return join_runs(ordered, "{:02d}".format)


# ----------------------------------------------------------------------------------- --at

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", re.ASCII)
_AT_HINT = "write HH:MM[:SS] for daily, or weekdays first: 'Mon..Fri 02:00', 'Sun 03:30', 'Mon,Wed 02:00'"


def _at_calendar(value: str, label: str) -> tuple[str, ...]:
    weekdays, clock = _parse_at(value, label)
    return (_expression(weekdays, "*-*-*", clock),)


def _parse_at(value: str, label: str) -> tuple[str, str]:
    """('Mon..Fri' or '' for daily, 'HH:MM:SS') from '[WEEKDAYS] HH:MM[:SS]'."""
    *days, clock = value.split() or [""]
    match = _CLOCK.fullmatch(clock)
    if not match:
        raise InvalidInput(f"{label}: cannot read a time of day in {value!r}", _AT_HINT)
    hour, minute, second = (int(part or 0) for part in match.groups())
    for name, number, top in (("hour", hour, 23), ("minute", minute, 59), ("second", second, 59)):
        if number > top:
            raise InvalidInput(f"{label}: the {name} must be 0-{top}, got {value!r}", _AT_HINT)
    weekdays = _weekdays_text(_parse_weekdays(" ".join(days), label)) if days else ""
    return weekdays, f"{hour:02d}:{minute:02d}:{second:02d}"


def _parse_weekdays(text: str, label: str) -> set[int]:
    """Weekday indexes from 'Mon..Fri', 'Mon-Fri', 'Mon,Wed', 'sunday' (case-insensitive)."""
    days: set[int] = set()
    for item in text.split(","):
        ends = [_weekday_index(name.strip(), label) for name in re.split(r"\.\.|-", item)]
        if len(ends) > 2 or ends[0] > ends[-1]:
            raise InvalidInput(
                f"{label}: cannot read weekday range {item.strip()!r}",
                "ranges go Monday-first and do not wrap: write Mon..Fri, or list days: Fri,Sat,Sun,Mon",
            )
        days.update(range(ends[0], ends[-1] + 1))
    return days


def _weekday_index(name: str, label: str) -> int:
    if name.lower() not in _WEEKDAY_NAMES:
        raise InvalidInput(
            f"{label}: unknown weekday {name!r}",
            "use Mon, Tue, Wed, Thu, Fri, Sat, Sun (or full names), ranges like Mon..Fri, lists like Mon,Wed",
        )
    return _WEEKDAY_NAMES[name.lower()]


# --------------------------------------------------------------------------------- --cron

# The cron grammar, stated once: what --cron reads here, and what the export's checks hold
# a written cron line to.


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    spelling: str  # how a single value is written, for hints
    names: dict[str, int] = field(default_factory=dict)  # the names it takes, lower case, by value


CRON_MONTH_NAMES = {
    name: number for number, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
CRON_DAY_NAMES = {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
CRON_FIELDS = (
    CronField("minute", 0, 59, "a number 0-59"),
    CronField("hour", 0, 23, "a number 0-23"),
    CronField("day-of-month", 1, 31, "a number 1-31"),
    CronField("month", 1, 12, "a number 1-12 or a name jan-dec", CRON_MONTH_NAMES),
    # cron accepts both 0 and 7 for Sunday
    CronField("day-of-week", 0, 7, "a number 0-7 (0 and 7 are Sunday) or a name sun-sat", CRON_DAY_NAMES),
)
# The @ macros every cron reads, each as the 5 fields it stands for.
CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_CRON_ITEM = re.compile(r"(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:/(\d+))?", re.ASCII | re.IGNORECASE)
_CRON_HINT = "write 5 fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * 1-5', or @hourly, @daily, @weekly, @monthly, @yearly"


def _cron_calendar(value: str, label: str) -> tuple[str, ...]:
    text = CRON_MACROS.get(value.strip().lower(), value)
    if text.strip().startswith("@"):
        raise InvalidInput(f"{label}: {value.strip()!r} has no timer equivalent", _CRON_HINT)
    fields = text.split()
    if len(fields) != 5:
        raise InvalidInput(
            f"{label}: expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)} in {value!r}",
            _CRON_HINT + "; for seconds or years use --on with a calendar expression",
        )
    minutes, hours, days, months, weekdays = (
        _cron_values(field_text, cron_field, label) for field_text, cron_field in zip(fields, CRON_FIELDS, strict=True)
    )
    clock = f"{_number_text(hours, 0, 23)}:{_number_text(minutes, 0, 59)}:00"
    month_text = _number_text(months, 1, 12)
    weekdays = {(day + 6) % 7 for day in weekdays}  # cron's 0/7 = Sunday to systemd's 0 = Monday
    # Vixie cron and cronie: when day-of-month and day-of-week are both restricted (neither
    # field starts with '*'), a day matching EITHER runs. OnCalendar= ANDs its parts, but a
    # timer with several OnCalendar= lines fires on any of them, so the OR becomes two lines.
    if fields[2].startswith("*") or fields[4].startswith("*"):
        day_rules = [(weekdays, days)]
    else:
        day_rules = [(weekdays, set(range(1, 32))), (set(range(7)), days)]
    return tuple(
        _expression(_weekdays_text(on_weekdays), f"*-{month_text}-{_number_text(on_days, 1, 31)}", clock) for on_weekdays, on_days in day_rules
    )


def _cron_values(text: str, cron_field: CronField, label: str) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_cron_item(item, cron_field, label))
    return values


def _cron_item(item: str, cron_field: CronField, label: str) -> range:
    """The values of one list item: '*', 'n', 'a-b', each optionally '/step'; 'a/step' runs
    to the field's end, as in cronie."""
    match = _CRON_ITEM.fullmatch(item)
    if not match:
        raise _cron_error(label, cron_field, item, "is not valid")
    star, first, last, step = match.groups()
    if star:
        low, high = cron_field.low, cron_field.high
    elif last:
        low, high = _cron_number(first, cron_field, label), _cron_number(last, cron_field, label)
    else:
        low = _cron_number(first, cron_field, label)
        high = cron_field.high if step else low
    if step is not None and int(step) == 0:
        raise _cron_error(label, cron_field, item, "has step 0; a step must be 1 or more")
    if low > high:
        raise _cron_error(label, cron_field, item, "is a range that runs backwards")
    return range(low, high + 1, int(step or 1))


def _cron_number(token: str, cron_field: CronField, label: str) -> int:
    number = int(token) if token.isdigit() else cron_field.names.get(token.lower())
    if number is None:
        raise _cron_error(label, cron_field, token, f"is not {cron_field.spelling}")
    if not cron_field.low <= number <= cron_field.high:
        raise _cron_error(label, cron_field, token, f"is out of range {cron_field.low}-{cron_field.high}")
    return number


def _cron_error(label: str, cron_field: CronField, text: str, problem: str) -> InvalidInput:
    return InvalidInput(
        f"{label}: {cron_field.name} field: {text!r} {problem}",
        f"the {cron_field.name} field takes *, {cron_field.spelling}, a range a-b, a list a,b, or a step "
        "*/n, a-b/n or a/n; L, W, # and ? are not standard cron and have no timer equivalent",
    )


_CALENDAR_PARSERS = {"at": _at_calendar, "on": _on_calendar, "cron": _cron_calendar}
