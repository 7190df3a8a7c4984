"""--since WHEN: how long ago, a day, a date, a local date and time."""

from datetime import UTC, datetime, timedelta

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import parse_since

NOW = datetime(2026, 3, 1, 14, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def berlin(local_time_zone):
    """A local zone that is not UTC, so a local time read as UTC would show."""
    local_time_zone("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("30m", timedelta(minutes=30)),
        ("6h", timedelta(hours=6)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(minutes=90)),
        ("45", timedelta(seconds=45)),
    ],
)
def test_how_long_ago(text, ago):
    assert parse_since(text, NOW) == NOW - ago


def test_today_and_yesterday_start_at_local_midnight():
    assert parse_since("today", NOW) == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert parse_since("Yesterday", NOW) == datetime(2026, 2, 27, 23, 0, tzinfo=UTC)


def test_dates_and_times_are_local_unless_they_say_otherwise():
    assert parse_since("2026-01-31", NOW) == datetime(2026, 1, 30, 23, 0, tzinfo=UTC)
    summer = datetime(2026, 8, 1, tzinfo=UTC)
    assert parse_since("2026-07-01 02:00", summer) == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)  # summer time
    assert parse_since("2026-01-31T02:00:00+00:00", NOW) == datetime(2026, 1, 31, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["soon", "6 parsecs", "2026-02-30", "-5m", "", "1M"])
def test_what_cannot_be_read_is_refused_with_a_hint(text):
    with pytest.raises(InvalidInput) as raised:
        parse_since(text, NOW)
    assert raised.value.message == f"--since: cannot read {text!r}"
    assert "6h" in raised.value.hint


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("99999999d", "before 1970"),  # once an OverflowError out of timedelta
        ("999999999999w", "before 1970"),
        ("20600d", "before 1970"),
        ("0001-01-01", "before 1970"),  # once a ValueError out of astimezone (year 0)
        ("0001-01-01T00:00+05:00", "before 1970"),
        ("1969-12-31", "before 1970"),
        ("9999-12-31", "still to come"),  # once an OverflowError out of astimezone
        ("9999-12-31T23:59:59-05:00", "still to come"),
        ("2026-03-02", "still to come"),
    ],
)
def test_a_moment_before_anything_was_recorded_or_still_to_come_is_refused(text, words):
    """The bounds: from the epoch to now, so every moment is one a datetime, SQLite and
    journalctl's --since=@SECONDS can hold."""
    with pytest.raises(InvalidInput) as raised:
        parse_since(text, NOW)
    assert words in raised.value.message
    assert raised.value.hint


def test_the_bounds_themselves_are_moments():
    assert parse_since("1970-01-01T00:00:00+00:00", NOW) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_since(f"{int((NOW - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())}s", NOW) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_since("2026-03-01T14:30:00+00:00", NOW) == NOW
