"""A job's schedule as the one 5-field cron line that Slurm's scrontab and a Kubernetes
CronJob read, or a refusal that says why there is none.

The line is plain numbers: no macros (systemd's `weekly` is Monday, cron's `@weekly`
Sunday), no names, no `*/1` (scrontab refuses it), no 7 for Sunday (Kubernetes' parser
takes 0-6). A calendar (--at, --on) comes from systemd's normal form of it, so what
systemd would fire is what the line says, or the export is refused: seconds, years, `~`
(days from a month's end) and a day of the month together with a weekday (systemd wants
both, cron either) have no cron line. An interval (--every) becomes the clock-aligned
line of the same period, when there is one: an approximation, said so.
"""

import re

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration
from gpuagent.jobs.schedule import SYSTEMD_WEEKDAYS, Schedule, join_runs

_NORMAL_FORM = re.compile(r"(?:(?P<weekdays>[A-Za-z.,]+) )?(?P<year>\S+)-(?P<month>[^-\s~]+)(?P<sep>[-~])(?P<day>\S+) (?P<time>\S+)")


class CronLine:
    def __init__(self, fields: tuple[str, str, str, str, str], approximation: str = "") -> None:
        self.fields = fields
        self.approximation = approximation  # words for the export's notes, "" when exact

    def __str__(self) -> str:
        return " ".join(self.fields)


def cron_line(schedule: Schedule) -> CronLine:
    """The cron line of `schedule`, whose calendar is in systemd's normal form
    (host/calendar.check_schedule); InvalidInput when it has none."""
    if not schedule.has_timer:
        raise InvalidInput("the job has no schedule of its own (it runs only after another job)", "give it one: --at, --on, --every or --cron")
    if schedule.interval_seconds is not None:
        return _every_line(schedule.interval_seconds)
    lines = [
        _calendar_line(expression.removesuffix(f" {schedule.tz}") if schedule.tz else expression, schedule) for expression in schedule.on_calendar
    ]
    if len(lines) == 1:
        return lines[0]
    # --cron with both a day of the month and a weekday: runs on either, so jobs/schedule.py
    # made it two expressions, one for each; cron says it in one line again
    if schedule.kind == "cron" and len(lines) == 2:
        by_weekday, by_day = lines
        return CronLine((*by_weekday.fields[:2], by_day.fields[2], by_weekday.fields[3], by_weekday.fields[4]))
    raise _refusal(schedule, "it is several calendar expressions")


def _every_line(seconds: int) -> CronLine:
    words = f"every {format_duration(seconds)} counts from the last start; the cron line fires on the clock"
    minutes, rest = divmod(seconds, 60)
    if not rest and minutes < 60 and 60 % minutes == 0:
        return CronLine(("*" if minutes == 1 else f"*/{minutes}", "*", "*", "*", "*"), f"{words}, at minutes divisible by {minutes}")
    hours, rest = divmod(seconds, 3600)
    if not rest and hours < 24 and 24 % hours == 0:
        return CronLine(("0", "*" if hours == 1 else f"*/{hours}", "*", "*", "*"), f"{words}, at hours divisible by {hours}")
    if seconds == 86400:
        return CronLine(("0", "0", "*", "*", "*"), f"{words}, at midnight")
    raise InvalidInput(
        f"schedule: every {format_duration(seconds)} has no cron line",
        "cron repeats within an hour or a day: use an interval that divides one (e.g. 15m, 2h, 6h, 1d), or a calendar: --at, --on, --cron",
    )


def _calendar_line(expression: str, schedule: Schedule) -> CronLine:
    match = _NORMAL_FORM.fullmatch(expression)
    if not match:
        raise _refusal(schedule, f"cannot read {expression!r}")
    if match["sep"] == "~":
        raise _refusal(schedule, "it counts days from the end of the month (~)")
    if match["year"] != "*":
        raise _refusal(schedule, "it names years")
    hour, minute, second = match["time"].split(":")
    if second != "00":
        raise _refusal(schedule, "it fires at seconds other than :00")
    weekdays = _weekdays(match["weekdays"]) if match["weekdays"] else "*"
    day = _component(match["day"], 1, 31)
    if weekdays != "*" and day != "*":
        raise _refusal(schedule, "it wants a day of the month AND a weekday (cron runs on either)")
    return CronLine((_component(minute, 0, 59), _component(hour, 0, 23), day, _component(match["month"], 1, 12), weekdays))


def _component(text: str, low: int, high: int) -> str:
    """One component of systemd's normal form ('*', '05', '01..05', '00/15', '1,3..5/2') in cron."""
    if text == "*":
        return "*"
    items = []
    for item in text.split(","):
        values, _, step = item.partition("/")
        first, _, last = values.partition("..")
        if not (first.isdigit() and (not last or last.isdigit()) and (not step or step.isdigit())):
            raise InvalidInput(f"schedule: cannot read {text!r} as cron")
        start, end = int(first), int(last or (high if step else first))
        if step and step != "1":
            items.append(f"*/{step}" if start == low and end == high else f"{start}-{end}/{step}")
        elif end > start:
            items.append("*" if (start, end) == (low, high) else f"{start}-{end}")
        else:
            items.append(str(start))
    return ",".join(items)


def _weekdays(text: str) -> str:
    """systemd's weekdays ('Mon..Fri', 'Sat,Sun') as cron's numbers (0 = Sunday)."""
    days: set[int] = set()
    for item in text.split(","):
        first, _, last = item.partition("..")
        start, end = SYSTEMD_WEEKDAYS.index(first), SYSTEMD_WEEKDAYS.index(last or first)
        days.update((index + 1) % 7 for index in range(start, end + 1))
    return "*" if len(days) == 7 else join_runs(sorted(days), through="-")


def _refusal(schedule: Schedule, why: str) -> InvalidInput:
    return InvalidInput(
        f"schedule.{schedule.kind}: {schedule.value!r} has no 5-field cron line: {why}",
        "give the job a schedule cron can say, e.g. --at 02:00, --on 'Sun 03:00', --cron '0 2 * * 1-5' (`gpuagent add NAME --replace ...`)",
    )
