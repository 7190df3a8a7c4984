"""gpuagent report says what starts each job and when it fires next: a job without a
timer is not called "timer disabled", a disabled timer lists no fires, and a duration
axis reads as distinct ticks however short the runs."""

import re
from datetime import UTC, datetime

import pytest

from gpuagent.commands.report import JobReport, Report, _next_fires
from gpuagent.host.systemd import TimerState
from gpuagent.jobs.inventory import JobSummary
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.views.htmlreport import _duration_tick, report_page
from tests.support.records import T0, run_record

ENABLED = TimerState(loaded=True, enabled=True, next_elapse=None, last_trigger=None)
DISABLED = TimerState(loaded=True, enabled=False, next_elapse=None, last_trigger=None)
NOT_LOADED = TimerState(loaded=False, enabled=False, next_elapse=None, last_trigger=None)
FIRE = datetime(2026, 4, 1, 2, tzinfo=UTC)


@pytest.fixture(autouse=True)
def utc(local_time_zone):
    local_time_zone("UTC")


def summary(name: str, timer: TimerState | None, *, after: str | None = None) -> JobSummary:
    schedule = parse_schedule() if after else parse_schedule(at="02:00")
    job = job_from_options(name, schedule, dict(image="img", command=["true"], after=after))
    return JobSummary(name, job, None, timer)


def page(*jobs: JobReport) -> str:
    return report_page(Report("gpubox-01", list(jobs), datetime.fromtimestamp(T0 - 3600, UTC), datetime.fromtimestamp(T0 + 86400, UTC), None))


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("timer", [None, DISABLED, NOT_LOADED], ids=["systemd not asked", "no timer unit", "timer unit"])
def test_a_job_that_runs_only_after_another_says_so_not_timer_disabled(timer):
    text = words(page(JobReport(summary("evaluate", timer, after="train"), [], [], None)))
    assert "timer disabled" not in text and "timer unknown" not in text
    assert "no timer: runs after each success of train" in text
    assert "no timer, and after" not in text


def test_a_disabled_timer_lists_no_fires_and_says_it_is_disabled():
    disabled = summary("nightly", DISABLED)
    assert _next_fires(disabled) == ([], None), "asked of nothing: its calendar's times never come"
    text = words(page(JobReport(disabled, [], [], None)))
    assert "timer disabled" in text
    assert "none: the timer is disabled (gpuagent enable nightly)" in text
    assert "2026-04-01" not in text


def test_a_disabled_timer_is_disabled_even_if_fires_were_gathered():
    """The page does not list what it was handed for a disabled timer either."""
    text = words(page(JobReport(summary("nightly", DISABLED), [], [FIRE], None)))
    assert "none: the timer is disabled" in text


def test_an_enabled_timer_lists_its_fires_and_a_timer_not_installed_says_so():
    text = words(page(JobReport(summary("nightly", ENABLED), [], [FIRE], None)))
    assert "timer enabled" in text and "2026-04-01 02:00" in text
    text = words(page(JobReport(summary("nightly", NOT_LOADED), [], [FIRE], None)))
    assert "timer not installed (gpuagent sync writes it)" in text


def y_ticks(html: str, chart: str) -> list[str]:
    svg = re.search(rf'<svg class="chart"[^>]*aria-label="{chart}".*?</svg>', html).group(0)
    return re.findall(r'<text class="y"[^>]*>([^<]*)</text>', svg)


@pytest.mark.parametrize(
    ("durations", "shape"),
    [
        ([0.1, 0.25, 0.4], r"\d+ms"),  # once: 0s 0s 0s 0s 0s
        ([0.0002, 0.0003, 0.0004], r"[\d.]+ms"),
        ([0.6, 1.0, 1.4], r"[\d.]+m?s"),  # half seconds: once 0s 0s 1s 2s
        ([40, 95, 110], r"\d+m?\d*s"),
        ([3 * 3600, 5 * 3600], r"\d+h"),
    ],
)
def test_duration_ticks_are_distinct_whatever_the_scale(durations, shape):
    runs = [run_record(f"r{n}", "nightly", "succeeded", T0 + n * 60, took=took) for n, took in enumerate(durations)]
    ticks = y_ticks(page(JobReport(summary("nightly", ENABLED), runs, [FIRE], None)), "duration")
    assert len(ticks) >= 3
    assert len(set(ticks)) == len(ticks), ticks
    assert all(re.fullmatch(shape, tick) or tick == "0s" for tick in ticks), ticks


def test_a_sub_second_tick_reads_in_milliseconds():
    assert [_duration_tick(value) for value in (0, 0.05, 0.1, 0.25, 1.5, 60, 3600)] == ["0s", "50ms", "100ms", "250ms", "1.5s", "1m", "1h"]
