"""gpuagent.jobs.schedule: the four schedule options, durations, job-file round trip, and, for
--cron, the independent reference cron matcher written here, which
tests/tools/test_calendar.py holds against what systemd computes for the translated
OnCalendar= lines."""

from datetime import UTC, datetime, timedelta

import pytest

from gpuagent.core.errors import InvalidInput, SystemdError
from gpuagent.core.quantities import format_duration, parse_duration
from gpuagent.host.calendar import check_schedule, next_elapses
from gpuagent.jobs.schedule import (
    Schedule,
    parse_schedule,
    schedule_from_toml,
    to_toml,
)

UTC = UTC


@pytest.fixture(autouse=True)
def utc_host(monkeypatch):
    """systemd-analyze reads calendar specs in local time; pin it so results do not depend on the host."""
    monkeypatch.setenv("TZ", "UTC")


@pytest.fixture
def no_systemd_analyze(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))


def checked(**options) -> Schedule:
    """What `add` makes of the options: parsed, then checked by systemd."""
    schedule = parse_schedule(**options)
    return check_schedule(schedule, f"--{schedule.kind}", "--tz")


def invalid(**options) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        checked(**options)
    return caught.value


# ------------------------------------------------------------- reference cron matcher

REF_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
REF_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
REF_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def ref_values(text: str, low: int, high: int, names: list[str], first_name: int) -> set[int]:
    def number(token: str) -> int:
        return int(token) if token.isdigit() else names.index(token.lower()) + first_name

    values = set()
    for item in text.split(","):
        body, _, step = item.partition("/")
        if body == "*":
            start, stop = low, high
        elif "-" in body:
            start, stop = (number(token) for token in body.split("-"))
        else:
            start = number(body)
            stop = high if step else start
        values.update(range(start, stop + 1, int(step or 1)))
    return values


def reference_fire_times(cron: str, base: datetime, count: int) -> list[datetime]:
    """The first `count` times after `base` that cron would run `cron`, the plain way: walk
    the days, test each against the fields, list its matching hours and minutes."""
    minute, hour, dom, month, dow = REF_MACROS.get(cron, cron).split()
    minutes = ref_values(minute, 0, 59, [], 0)
    hours = ref_values(hour, 0, 23, [], 0)
    doms = ref_values(dom, 1, 31, [], 0)
    months = ref_values(month, 1, 12, REF_MONTHS, 1)
    dows = {day % 7 for day in ref_values(dow, 0, 7, REF_DAYS, 0)}

    def runs_on(day) -> bool:
        dom_ok, dow_ok = day.day in doms, day.isoweekday() % 7 in dows
        if dom.startswith("*") or dow.startswith("*"):
            return dom_ok and dow_ok
        return dom_ok or dow_ok  # both restricted: either one will do

    times: list[datetime] = []
    day = base.date()
    while len(times) < count and day.year < base.year + 100:
        if day.month in months and runs_on(day):
            times += [
                moment for h in sorted(hours) for m in sorted(minutes) if (moment := datetime(day.year, day.month, day.day, h, m, tzinfo=UTC)) > base
            ]
        day += timedelta(days=1)
    return times[:count]


def test_reference_matcher_knows_the_or_rule():
    # The matcher above is the oracle; make sure it really ORs: 2024-02-01 is a Thursday.
    assert reference_fire_times("0 0 1 * 1", datetime(2024, 1, 31, tzinfo=UTC), 2) == [
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 2, 5, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("cron", "on_calendar"),
    [
        ("0 2 * * 1-5", ("Mon..Fri *-*-* 02:00:00",)),
        ("*/15 * * * *", ("*-*-* *:00/15:00",)),
        ("5-50/10 */6 * * *", ("*-*-* 00/6:05..45/10:00",)),
        ("0 0 * * 0,7", ("Sun *-*-* 00:00:00",)),
        ("0 0 1,15 * mon", ("Mon *-*-* 00:00:00", "*-*-01,15 00:00:00")),
        ("@weekly", ("Sun *-*-* 00:00:00",)),
    ],
)
def test_cron_translation(cron, on_calendar):
    schedule = parse_schedule(cron=cron)
    assert schedule == Schedule("cron", cron, on_calendar, None)
    assert schedule.describe() == f"cron {cron}"


# ---------------------------------------------------------------------------------- --at


@pytest.mark.parametrize(
    ("at", "on_calendar", "words"),
    [
        ("02:00", "*-*-* 02:00:00", "daily at 02:00"),
        ("2:05:30", "*-*-* 02:05:30", "daily at 02:05:30"),
        ("00:00", "*-*-* 00:00:00", "daily at 00:00"),
        ("Mon..Fri 02:00", "Mon..Fri *-*-* 02:00:00", "Mon..Fri at 02:00"),
        ("Sun 03:30", "Sun *-*-* 03:30:00", "Sun at 03:30"),
        ("Mon,Wed 02:00", "Mon,Wed *-*-* 02:00:00", "Mon,Wed at 02:00"),
        ("mon-wed,FRIDAY 23:59", "Mon..Wed,Fri *-*-* 23:59:00", "Mon..Wed,Fri at 23:59"),
        ("Mon..Sun 01:00", "*-*-* 01:00:00", "daily at 01:00"),
    ],
)
def test_at(at, on_calendar, words):
    schedule = parse_schedule(at=at)
    assert schedule == Schedule("at", at, (on_calendar,), None)
    assert schedule.describe() == words


@pytest.mark.parametrize(
    ("at", "says"),
    [
        ("25:00", "hour must be 0-23"),
        ("12:60", "minute must be 0-59"),
        ("12:00:60", "second must be 0-59"),
        ("Funday 02:00", "unknown weekday 'Funday'"),
        ("Fri..Mon 02:00", "weekday range 'Fri..Mon'"),
        ("2pm", "cannot read a time"),
        ("02:00 Mon", "cannot read a time"),
        ("", "cannot read a time"),
    ],
)
def test_at_rejected(at, says):
    error = invalid(at=at)
    assert error.message.startswith("--at: ")
    assert says in error.message
    assert error.hint


# ---------------------------------------------------------------------------------- --on


def test_on_refuses_line_breaks_even_without_systemd_analyze(no_systemd_analyze):
    assert "control characters" in invalid(on="daily\nExecStart=/bin/sh").message


def test_on_is_kept_as_typed_without_systemd_analyze(no_systemd_analyze):
    assert checked(on="daily").on_calendar == ("daily",)


def test_next_elapses_needs_systemd_analyze(no_systemd_analyze):
    with pytest.raises(SystemdError):
        next_elapses(parse_schedule(at="02:00"), 1)


# ------------------------------------------------------------------------------- --every


@pytest.mark.parametrize(
    ("every", "seconds", "words"),
    [
        ("6h", 21600, "every 6h"),
        ("1m", 60, "every 1m"),
        ("90 min", 5400, "every 1h30m"),
        ("31d", 2678400, "every 31d"),
    ],
)
def test_every(every, seconds, words):
    schedule = parse_schedule(every=every)
    assert schedule == Schedule("every", every, (), seconds)
    assert schedule.describe() == words
    assert next_elapses(schedule, 5) == []


@pytest.mark.parametrize(
    ("every", "says"),
    [
        ("30s", "shorter than 1 minute"),
        ("59", "shorter than 1 minute"),
        ("32d", "longer than 31 days"),
        ("soon", "cannot read duration"),
        ("0", "greater than zero"),
    ],
)
def test_every_rejected(every, says):
    error = invalid(every=every)
    assert error.message.startswith("--every: ")
    assert says in error.message


# ------------------------------------------------------------------------- one option only


def test_no_option_is_no_timer_and_a_job_needs_after_then():
    from gpuagent.jobs.job import job_from_options
    from gpuagent.jobs.schedule import NO_TIMER

    assert parse_schedule() is NO_TIMER
    options = {"image": "img", "command": ["true"]}
    with pytest.raises(InvalidInput) as caught:
        job_from_options("evaluate", NO_TIMER, options)
    assert all(option in caught.value.message for option in ("--at", "--on", "--every", "--cron", "--after"))
    job = job_from_options("evaluate", NO_TIMER, {**options, "after": "train"})
    assert (job.when, job.schedule.has_timer) == ("after train", False)


def test_two_options_are_an_error():
    error = invalid(at="02:00", cron="0 2 * * *")
    assert "exactly one of" in error.message
    assert "got --at and --cron" in error.message


# --------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("6h", 21600),
        ("2d", 172800),
        ("1h30m", 5400),
        ("45", 45),
        (" 10m ", 600),
        ("1h 30min", 5400),
        ("2w", 1209600),
        ("1d12h", 129600),
        ("3 hours", 10800),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0s", "0h0m", "-5m", "", " ", "abc", "5x", "1.5h", "1M", "1h30", "h"])
def test_parse_duration_rejects(text):
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text, option="--timeout")
    assert caught.value.message.startswith("--timeout: ")
    assert "6h" in caught.value.hint


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(21600, "6h"), (5400, "1h30m"), (45, "45s"), (86400, "1d"), (90061, "1d1h1m1s"), (0, "0s")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


DURATION_SECONDS = [1, 59, 60, 61, 3599, 3600, 5400, 86399, 86400, 90061, 10**7]


@pytest.mark.parametrize("seconds", DURATION_SECONDS)
def test_format_duration_reads_back_the_same(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


# ------------------------------------------------------------------------------------ TOML


@pytest.mark.parametrize(
    "options",
    [{"at": "Mon..Fri 02:00"}, {"on": "Sun *-*-* 03:00"}, {"every": "1h30m"}, {"cron": "0 0 1,15 * mon"}, {"cron": "@daily"}],
)
def test_toml_round_trip(options):
    schedule = parse_schedule(**options)
    assert to_toml(schedule) == options
    assert schedule_from_toml(to_toml(schedule)) == schedule


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"at": "25:00"}, "schedule.at"),
        ({"cron": "0 0 * * 8"}, "schedule.cron"),
        ({"every": "10s"}, "schedule.every"),
        ({"every": 3600}, "schedule.every"),
        ({"ats": "02:00"}, "'ats'"),
        ({"at": "02:00", "every": "6h"}, "exactly one"),
    ],
)
def test_toml_rejected_naming_the_key(table, named):
    with pytest.raises(InvalidInput) as caught:
        schedule_from_toml(table)
    assert named in caught.value.message
    assert caught.value.message.startswith("schedule")
