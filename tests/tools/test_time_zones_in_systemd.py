"""Zoned schedules through systemd-analyze: normal form, unknown zones, daylight saving."""

import shutil
from datetime import UTC, datetime

import pytest

from gpuagent.commands.sync import sync_timers
from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import resolve_paths
from gpuagent.host.calendar import check_schedule, next_elapses
from gpuagent.host.files import write_atomic
from gpuagent.jobs.schedule import Schedule, parse_schedule
from tests.unit import test_time_zones
from tests.unit.test_time_zones import JOB_FILE, checked

# fixtures the in-process half of these tests takes too
utc_host = test_time_zones.utc_host

needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (systemd's calendar parser)")


@needs_systemd_analyze
def test_a_zone_systemd_does_not_know_is_refused_naming_the_zone_option():
    # A zone the host's database holds but systemd's does not: built as such a host would.
    schedule = Schedule("at", "02:00", ("*-*-* 02:00:00 Mars/Olympus_Mons",), None, "Mars/Olympus_Mons")
    with pytest.raises(InvalidInput) as caught:
        check_schedule(schedule, "schedule.at", "schedule.tz")
    assert caught.value.message == "schedule.tz: systemd does not know the time zone 'Mars/Olympus_Mons'"
    assert "Asia/Shanghai" in caught.value.hint


@needs_systemd_analyze
@pytest.mark.parametrize(
    "options",
    [
        {"at": "Mon..Fri 02:00"},
        {"cron": "0 0 1,15 * mon"},
        {"cron": "*/15 9-17 * * *"},
        {"at": "02:00", "zone": "UTC"},
        {"at": "02:00", "zone": "Etc/GMT+5"},
    ],
)
def test_zoned_expressions_are_already_systemd_normal_form(options):
    # Views read job files without systemd-analyze: what gpuagent writes must be what systemd would.
    zone = options.pop("zone", "Asia/Kolkata")
    assert checked(**options, tz=zone).on_calendar == parse_schedule(**options, tz=zone).on_calendar


@needs_systemd_analyze
@pytest.mark.parametrize("host_zone", ["UTC", "Europe/Berlin"])
def test_it_fires_at_that_time_in_its_zone_whatever_the_hosts(local_time_zone, host_zone):
    local_time_zone(host_zone)
    moments = next_elapses(parse_schedule(at="02:00", tz="Asia/Kolkata"), 2, after=datetime(2024, 1, 10, tzinfo=UTC))
    # 02:00 in India (UTC+05:30) is 20:30 UTC the day before
    assert moments == [datetime(2024, 1, 10, 20, 30, tzinfo=UTC), datetime(2024, 1, 11, 20, 30, tzinfo=UTC)]


@needs_systemd_analyze
def test_it_follows_its_zones_daylight_saving():
    schedule = parse_schedule(cron="CRON_TZ=Europe/Berlin 0 2 * * *")
    assert next_elapses(schedule, 1, after=datetime(2024, 1, 10, tzinfo=UTC)) == [datetime(2024, 1, 10, 1, 0, tzinfo=UTC)]
    assert next_elapses(schedule, 1, after=datetime(2024, 7, 9, 12, tzinfo=UTC)) == [datetime(2024, 7, 10, 0, 0, tzinfo=UTC)]


@pytest.fixture
def paths(tmp_path):
    env = {f"GPUAGENT_{var}_DIR": str(tmp_path / var.lower()) for var in ("CONFIG", "UNIT", "STATE", "RUNTIME", "PACKAGE_UNIT")}
    return resolve_paths(user_mode=False, env=env)


def test_sync_writes_a_zoned_timer_and_keeps_a_bad_zones_timer_as_it_is(paths):
    write_atomic(paths.job_file("shanghai"), JOB_FILE + 'at = "02:00"\ntz = "Asia/Shanghai"\n')
    write_atomic(paths.job_file("mars"), JOB_FILE + 'at = "02:00"\ntz = "Mars/Base"\n')

    result = sync_timers(paths, dry_run=True)

    assert result.written[0] == paths.timer_file("shanghai")
    assert "schedule.tz: unknown time zone 'Mars/Base'" in result.broken["mars"].message
    assert not paths.timer_file("shanghai").exists(), "a dry run writes nothing"
