"""The next fires the metrics remember between writes (host/calendar.py's
remembered_next_elapses), against systemd's own calendar parser: asked once while none of
them has passed, asked again when one has, when the schedule or the host's zone changes,
or when the file is unreadable; never wrong."""

import json
import time

import pytest

from gpuagent.host import calendar
from gpuagent.host.calendar import next_elapses, remembered_next_elapses
from gpuagent.jobs.schedule import parse_schedule
from tests.tools.test_calendar import needs_systemd_analyze

pytestmark = needs_systemd_analyze


@pytest.fixture
def asked(monkeypatch):
    """Each set of expressions systemd-analyze is asked about, in order."""
    calls = []
    real = calendar._systemd_analyze_calendar

    def counting(expressions, **kwargs):
        calls.append(expressions)
        return real(expressions, **kwargs)

    monkeypatch.setattr(calendar, "_systemd_analyze_calendar", counting)
    return calls


def test_the_second_write_asks_nothing_and_gets_the_same_fires(tmp_path, asked):
    schedule = parse_schedule(on="*-*-* 02,14:00")
    cache = tmp_path / "next-fires.json"
    first = remembered_next_elapses(schedule, 8, cache)
    assert first == next_elapses(schedule, 8) and len(first) == 8
    asked.clear()
    assert remembered_next_elapses(schedule, 8, cache) == first
    assert asked == []


def test_a_passed_fire_a_changed_schedule_or_zone_asks_again(tmp_path, asked, monkeypatch):
    daily = parse_schedule(at="02:00")
    cache = tmp_path / "next-fires.json"
    remembered_next_elapses(daily, 8, cache)
    # the first remembered fire passed: what is left is no longer the next 8
    [(key, moments)] = json.loads(cache.read_text()).items()
    cache.write_text(json.dumps({key: [time.time() - 60, *moments[1:]]}))
    asked.clear()
    assert remembered_next_elapses(daily, 8, cache) == next_elapses(daily, 8)
    assert len(asked) == 2  # remembered, then the reference
    # another schedule (an edited job file) is another entry; both are kept
    asked.clear()
    hourly = parse_schedule(on="hourly")
    assert remembered_next_elapses(hourly, 8, cache) == next_elapses(hourly, 8)
    assert len(asked) == 2 and len(json.loads(cache.read_text())) == 2
    # the host's zone changed: 02:00 is another moment
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    asked.clear()
    tokyo = remembered_next_elapses(daily, 8, cache)
    assert len(asked) == 1 and tokyo == next_elapses(daily, 8)
    assert tokyo[0].hour == 17  # 02:00 in Tokyo is 17:00 UTC


def test_a_zone_of_the_jobs_own_is_part_of_the_key(tmp_path, asked):
    cache = tmp_path / "next-fires.json"
    here = remembered_next_elapses(parse_schedule(at="02:00"), 8, cache)
    there = remembered_next_elapses(parse_schedule(at="02:00", tz="America/New_York"), 8, cache)
    assert here != there and len(asked) == 2


@pytest.mark.parametrize("content", ["{not json", "[]", '{"k": "v"}', '{"k": [null]}', '{"k": []}'])
def test_an_unreadable_file_is_asked_past_and_replaced(tmp_path, asked, content):
    cache = tmp_path / "next-fires.json"
    cache.write_text(content)
    schedule = parse_schedule(at="02:00")
    assert remembered_next_elapses(schedule, 8, cache) == next_elapses(schedule, 8)
    asked.clear()
    remembered_next_elapses(schedule, 8, cache)
    assert asked == []


def test_a_cache_that_cannot_be_written_costs_only_the_process(tmp_path, asked):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    schedule = parse_schedule(at="02:00")
    assert remembered_next_elapses(schedule, 8, blocker / "next-fires.json") == next_elapses(schedule, 8)
