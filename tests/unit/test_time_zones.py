"""Schedules in a time zone of their own (--tz, cron's CRON_TZ=, a zone ending --on): how
they are read and refused, what the timer and the job file get, and how show, status and
list name the zone. (When systemd says they fire is tests/tools/test_time_zones_in_systemd.py.) (That a booted systemd fires one at
the right instant is tests/systemd/test_timer_time_zone.py.)"""

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gpuagent.commands.show import JobDetail
from gpuagent.commands.status import StatusReport, assess
from gpuagent.core.errors import InvalidInput
from gpuagent.host.calendar import check_schedule
from gpuagent.host.systemd import TimerState
from gpuagent.jobs.inventory import JobList, JobSummary
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.jobfile import job_from_toml, job_to_toml
from gpuagent.jobs.schedule import Schedule, parse_schedule, schedule_from_toml, to_toml
from gpuagent.jobs.units import timer_unit
from gpuagent.views import jsondoc
from gpuagent.views import text as render
from gpuagent.views.screen import Screen


@pytest.fixture(autouse=True)
def utc_host(local_time_zone):
    """A host on UTC, as the servers this is for; a test that needs another zone sets it."""
    local_time_zone("UTC")


def checked(**options) -> Schedule:
    schedule = parse_schedule(**options)
    return check_schedule(schedule, f"--{schedule.kind}", "--tz")


def refused(**options) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        checked(**options)
    return caught.value


# ---------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("options", "on_calendar", "words"),
    [
        ({"at": "02:00"}, ("*-*-* 02:00:00 Asia/Shanghai",), "daily at 02:00 in Asia/Shanghai"),
        ({"at": "Mon..Fri 02:00"}, ("Mon..Fri *-*-* 02:00:00 Asia/Shanghai",), "Mon..Fri at 02:00 in Asia/Shanghai"),
        ({"cron": "0 2 * * 1-5"}, ("Mon..Fri *-*-* 02:00:00 Asia/Shanghai",), "cron 0 2 * * 1-5 in Asia/Shanghai"),
        (
            {"cron": "0 0 1,15 * mon"},
            ("Mon *-*-* 00:00:00 Asia/Shanghai", "*-*-01,15 00:00:00 Asia/Shanghai"),
            "cron 0 0 1,15 * mon in Asia/Shanghai",
        ),
        ({"on": "Sun 03:00"}, ("Sun 03:00 Asia/Shanghai",), "on Sun 03:00 in Asia/Shanghai"),
    ],
)
def test_a_zone_ends_every_calendar_expression(options, on_calendar, words):
    schedule = parse_schedule(**options, tz="Asia/Shanghai")
    assert schedule == Schedule(*options, *options.values(), on_calendar, None, "Asia/Shanghai")
    assert schedule.describe() == words


@pytest.mark.parametrize(
    ("same", "as_tz"),
    [
        ({"cron": "CRON_TZ=Asia/Shanghai 0 2 * * *"}, {"cron": "0 2 * * *"}),
        ({"cron": "  CRON_TZ=Asia/Shanghai   @daily "}, {"cron": "@daily"}),
        ({"cron": "CRON_TZ=Asia/Shanghai 0 2 * * *", "tz": "Asia/Shanghai"}, {"cron": "0 2 * * *"}),
        ({"on": "Sun 03:00 Asia/Shanghai"}, {"on": "Sun 03:00"}),
        ({"on": "Sun 03:00 Asia/Shanghai", "tz": "Asia/Shanghai"}, {"on": "Sun 03:00"}),
    ],
)
def test_cron_tz_and_a_zone_ending_on_are_the_same_as_tz(same, as_tz):
    assert parse_schedule(**same) == parse_schedule(**as_tz, tz="Asia/Shanghai")


def test_a_schedule_without_a_zone_is_as_before():
    schedule = parse_schedule(on="2026-12-24 18:00")
    assert (schedule.tz, schedule.on_calendar, schedule.describe()) == (None, ("2026-12-24 18:00",), "on 2026-12-24 18:00")
    assert parse_schedule(on="*:0/15").on_calendar == ("*:0/15",), "a step ending --on is no zone"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"at": "02:00", "tz": "Mars/Olympus_Mons"}, "--tz: unknown time zone 'Mars/Olympus_Mons'"),
        ({"at": "02:00", "tz": "Asia"}, "--tz: unknown time zone 'Asia'"),
        ({"at": "02:00", "tz": "utc"}, "--tz: unknown time zone 'utc'"),
        ({"at": "02:00", "tz": "localtime"}, "--tz: unknown time zone 'localtime'"),
        ({"at": "02:00", "tz": "../../etc/passwd"}, "--tz: unknown time zone"),
        ({"at": "02:00", "tz": "/usr/share/zoneinfo/UTC"}, "--tz: unknown time zone"),
        ({"at": "02:00", "tz": ""}, "--tz: unknown time zone ''"),
        ({"at": "02:00", "tz": "Asia/Shanghai\nExecStart=/bin/sh"}, "--tz: unknown time zone"),
        ({"cron": "CRON_TZ=Mars/Base 0 2 * * *"}, "--cron: unknown time zone 'Mars/Base'"),
        ({"cron": "CRON_TZ= 0 2 * * *"}, "--cron: unknown time zone ''"),
        ({"on": "daily Mars/Base"}, "--on: unknown time zone 'Mars/Base'"),
        ({"cron": "CRON_TZ=Asia/Tokyo 0 2 * * *", "tz": "Asia/Shanghai"}, "--cron is in time zone Asia/Tokyo but --tz says Asia/Shanghai"),
        ({"on": "Sun 03:00 Asia/Tokyo", "tz": "Asia/Shanghai"}, "--on is in time zone Asia/Tokyo but --tz says Asia/Shanghai"),
        ({"every": "6h", "tz": "Asia/Shanghai"}, "--tz: an --every schedule has no time zone"),
        ({"tz": "Asia/Shanghai"}, "give exactly one of --at, --on, --every, --cron"),
    ],
)
def test_a_zone_is_refused_saying_what_to_fix(options, says):
    error = refused(**options)
    assert says in error.message
    assert error.hint


# ------------------------------------------------------------------------- firing times


# ---------------------------------------------------------------------- timer, job file


def zoned_job(**schedule):
    return job_from_options("nightly", parse_schedule(**schedule), dict(image="img", command=["true"]))


def test_the_timer_holds_the_zone_and_the_job_file_keeps_it_in_schedule():
    job = zoned_job(cron="CRON_TZ=Asia/Shanghai 0 2 * * *")

    timer = timer_unit(job, Path("/etc/gpuagent/jobs/nightly.toml")).render()
    text = job_to_toml(job)

    assert "OnCalendar=*-*-* 02:00:00 Asia/Shanghai\n" in timer
    assert "(cron 0 2 * * * in Asia/Shanghai)" in timer
    assert '[schedule]\ncron = "0 2 * * *"\ntz = "Asia/Shanghai"\n' in text
    assert job_from_toml(text, Path("nightly.toml")) == job


@pytest.mark.parametrize("table", [{"at": "02:00", "tz": "Asia/Shanghai"}, {"cron": "CRON_TZ=Asia/Shanghai 0 2 * * *"}])
def test_the_job_file_round_trip(table):
    schedule = schedule_from_toml(table)
    assert schedule.tz == "Asia/Shanghai"
    assert schedule_from_toml(to_toml(schedule)) == schedule


JOB_FILE = 'schema_version = 1\nimage = "img"\ncommand = ["true"]\n[schedule]\n'


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ('at = "02:00"\ntz = "Mars/Base"\n', "schedule.tz: unknown time zone 'Mars/Base'"),
        ('at = "02:00"\ntz = 8\n', "schedule.tz: must be a string, got 8"),
        ('every = "6h"\ntz = "Asia/Shanghai"\n', "schedule.tz: an --every schedule has no time zone"),
        (
            'cron = "CRON_TZ=Asia/Tokyo 0 2 * * *"\ntz = "Asia/Shanghai"\n',
            "schedule.cron is in time zone Asia/Tokyo but schedule.tz says Asia/Shanghai",
        ),
        ('tz = "Asia/Shanghai"\n', "give exactly one of at, on, every, cron (found none)"),
        ('at = "02:00"\ntimezone = "Asia/Shanghai"\n', "unknown key 'schedule.timezone'"),
    ],
)
def test_a_hand_edited_zone_is_held_to_the_same_rules(schedule, says):
    with pytest.raises(InvalidInput) as caught:
        job_from_toml(JOB_FILE + schedule, Path("/etc/gpuagent/jobs/nightly.toml"))
    assert caught.value.message.startswith("job file /etc/gpuagent/jobs/nightly.toml: ")
    assert says in caught.value.message


# -------------------------------------------------------------------------------- views

NEXT = datetime(2024, 1, 10, 18, 0, tzinfo=UTC)  # 02:00 on the 11th in Shanghai


def text_of(view: str, result) -> str:
    buffer = io.StringIO()
    getattr(render, view)(Screen(file=buffer, terminal=False, width=160, escapes=False), result)
    return buffer.getvalue()


def summary(job) -> JobSummary:
    return JobSummary(job.name, job, None, TimerState(True, True, NEXT, None))


def test_show_gives_the_next_fires_in_the_jobs_zone_and_names_it():
    job = zoned_job(at="02:00", tz="Asia/Shanghai")
    detail = JobDetail(job, "/j.toml", job_to_toml(job), "/j.timer", None, None, None, [NEXT, NEXT.replace(day=11)])

    shown = text_of("job_detail", detail)

    assert "next fires  2024-01-11 02:00:00, 2024-01-12 02:00:00 (Asia/Shanghai)" in shown
    assert "daily at 02:00 in Asia/Shanghai" in shown
    assert jsondoc.job_detail(detail)["next_fires"] == ["2024-01-10T18:00:00+00:00", "2024-01-11T18:00:00+00:00"], "JSON stays in UTC"
    assert jsondoc.job_detail(detail)["job"]["schedule"]["tz"] == "Asia/Shanghai"


def test_status_and_list_give_the_next_fire_in_the_jobs_zone_and_name_it():
    zoned, local = zoned_job(at="02:00", tz="Asia/Shanghai"), zoned_job(at="18:00")
    report = StatusReport([assess(summary(zoned), [], NEXT.timestamp()), assess(summary(local), [], NEXT.timestamp())], None)
    listing = JobList([summary(zoned), summary(local)], None)

    for view, result in (("status", report), ("job_list", listing)):
        shown = text_of(view, result)  # piped: a cell's lines are joined with '; '
        assert "2024-01-11 02:00; Asia/Shanghai" in shown
        assert shown.count("2024-01-10 18:00") == 1, "a job without a zone is in the host's time, zone unnamed"
    assert jsondoc.status(report)["jobs"][0]["tz"] == "Asia/Shanghai"
    assert jsondoc.status(report)["jobs"][1]["tz"] is None
