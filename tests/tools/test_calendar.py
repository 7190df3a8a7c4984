"""Schedules through systemd's own calendar parser (`systemd-analyze calendar`)."""

import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from gpuagent.core.quantities import format_duration
from gpuagent.host.calendar import EPOCH, check_schedule, next_elapses
from gpuagent.jobs.schedule import (
    Schedule,
    parse_schedule,
    schedule_from_toml,
)
from tests.unit import test_schedule
from tests.unit.test_schedule import DURATION_SECONDS, checked, invalid, reference_fire_times

# fixtures the in-process half of these tests takes too
utc_host = test_schedule.utc_host

needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (systemd's calendar parser)")


BASE = datetime(2024, 1, 30, 12, 34, tzinfo=UTC)


CRON_CASES = [
    "* * * * *",
    "0 2 * * *",
    "*/15 * * * *",
    "5-50/10 */6 * * *",
    "0,30 8-10 * * *",
    "0 9-17/2 * * mon-fri",
    "0 2 * * 1-5",
    "30 3 * * 0",  # Sunday as 0
    "30 3 * * 7",  # Sunday as 7
    "0 0 * * 5-7",  # Friday to Sunday through 7
    "0 0 * * 0,7",
    "0 0 * * SAT,sun",
    "0 0 * * 1/2",  # a/n runs to 7, so Sunday too (as cronie)
    "0 0 1,15 * 1",  # day-of-month OR day-of-week
    "0 12 13 * fri",  # OR, with a name
    "0 4 8-14 * 1",  # OR: not 'the second Monday'
    "15 10 */10 * mon-wed",  # day-of-month starts with '*': AND, as Vixie cron and cronie
    "0 0 1-7 * */2",  # day-of-week starts with '*': AND
    "0 0 1 jan,jul *",
    "0 0 * JAN-MAR/2 *",
    "0 0 1/10 * *",
    "0 0 31 * *",  # only the months that have a 31st
    "0 0 29 feb *",  # leap days only
    "59 23 31 12 *",
    "@hourly",
    "@daily",
    "@midnight",
    "@weekly",
    "@monthly",
    "@yearly",
    "@annually",
]


@needs_systemd_analyze
@pytest.mark.parametrize("cron", CRON_CASES)
def test_cron_fires_when_cron_would(cron):
    schedule = parse_schedule(cron=cron)
    assert next_elapses(schedule, 20, after=BASE) == reference_fire_times(cron, BASE, 20)


@needs_systemd_analyze
@pytest.mark.parametrize("cron", CRON_CASES)
def test_cron_translation_is_already_systemd_normal_form(cron):
    # Views read job files without systemd-analyze, as translated; that must equal
    # systemd's normal form, or a job's timer would depend on who rendered it.
    normalised = checked(cron=cron).on_calendar
    assert parse_schedule(cron=cron).on_calendar == normalised


@pytest.mark.parametrize(
    ("cron", "named"),
    [
        ("* * * * * *", "5 fields"),
        ("0 2 * *", "5 fields"),
        ("garbage", "5 fields"),
        ("@reboot", "@reboot"),
        ("60 * * * *", "minute field"),
        ("jan * * * *", "minute field"),
        ("1,,2 * * * *", "minute field"),
        ("*/0 * * * *", "minute field"),
        ("0 24 * * *", "hour field"),
        ("0 5-1 * * *", "hour field"),
        ("0 0 0 * *", "day-of-month field"),
        ("0 0 32 * *", "day-of-month field"),
        ("0 0 L * *", "day-of-month field"),
        ("0 0 15W * *", "day-of-month field"),
        ("0 0 ? * 1", "day-of-month field"),
        ("0 0 * 13 *", "month field"),
        ("0 0 * foo *", "month field"),
        ("0 0 * * 8", "day-of-week field"),
        ("0 0 * * 5#2", "day-of-week field"),
        ("0 0 * * mon-sun", "day-of-week field"),  # sun is 0: write mon-7 or 1-7
        ("0 0 * * */0", "day-of-week field"),
        pytest.param("0 0 30 feb *", "never elapses", marks=needs_systemd_analyze),
        pytest.param("0 0 31 4 *", "never elapses", marks=needs_systemd_analyze),
    ],
)
def test_cron_rejected_naming_the_problem(cron, named):
    error = invalid(cron=cron)
    assert error.message.startswith("--cron: ")
    assert named in error.message
    assert error.hint


@needs_systemd_analyze
def test_at_fires_after_the_base_never_at_it():
    moments = next_elapses(parse_schedule(at="Mon..Fri 02:00"), 3, after=datetime(2024, 1, 5, 2, 0, tzinfo=UTC))
    assert moments == [datetime(2024, 1, d, 2, 0, tzinfo=UTC) for d in (8, 9, 10)]


@needs_systemd_analyze
def test_elapses_are_utc_when_the_host_is_not(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    moments = next_elapses(parse_schedule(at="02:00"), 2, after=datetime(2024, 1, 10, tzinfo=UTC))
    assert moments == [datetime(2024, 1, 10, 1, 0, tzinfo=UTC), datetime(2024, 1, 11, 1, 0, tzinfo=UTC)]


@needs_systemd_analyze
@pytest.mark.parametrize(
    ("on", "on_calendar"),
    [
        ("daily", "*-*-* 00:00:00"),
        ("Sun *-*-* 03:00", "Sun *-*-* 03:00:00"),
        ("*:0/15", "*-*-* *:00/15:00"),
        ("Mon..Fri 02:00", "Mon..Fri *-*-* 02:00:00"),
    ],
)
def test_on_is_normalised_by_systemd(on, on_calendar):
    schedule = checked(on=on)
    assert schedule == Schedule("on", on, (on_calendar,), None)
    assert schedule.describe() == f"on {on}"


@needs_systemd_analyze
@pytest.mark.parametrize(
    ("on", "says"),
    [
        ("Feb 30", "systemd cannot read"),
        ("garbage", "systemd cannot read"),
        ("", "systemd cannot read"),
        ("*-02-30", "never elapses"),
        ("2020-01-01 00:00", "never elapses"),
    ],
)
def test_on_rejected(on, says):
    error = invalid(on=on)
    assert error.message.startswith("--on: ")
    assert says in error.message
    assert error.hint


@needs_systemd_analyze
def test_several_expressions_merge_without_duplicates():
    # 2024-01-01 is a Monday and the 1st: both lines of '1st OR Monday' fire then, once.
    moments = next_elapses(parse_schedule(cron="0 0 1 * 1"), 3, after=datetime(2023, 12, 31, tzinfo=UTC))
    assert moments == [datetime(2024, 1, d, tzinfo=UTC) for d in (1, 8, 15)]


@needs_systemd_analyze
@pytest.mark.parametrize("seconds", DURATION_SECONDS)
def test_systemd_reads_format_duration_the_same(seconds):
    text = format_duration(seconds)
    command = ["systemd-analyze", "timespan", text]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert int(re.search(r"μs: (\d+)", shown)[1]) == seconds * 1_000_000


@needs_systemd_analyze
def test_a_finished_one_shot_job_still_loads():
    # `add` refuses a date in the past; a job file holding one (it ran) must load.
    schedule = check_schedule(schedule_from_toml({"on": "2020-01-01 00:00"}), "on", "tz", after=EPOCH)
    assert schedule.on_calendar == ("2020-01-01 00:00:00",)
