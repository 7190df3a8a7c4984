"""How status judges a job: success rate, a failing streak, a missed fire."""

from datetime import UTC, datetime

import pytest

from gpuagent.commands.status import assess
from gpuagent.host.systemd import TimerState
from gpuagent.jobs.inventory import JobSummary
from gpuagent.observe.health import MISSED_GRACE_SECONDS
from tests.support.records import T0, run_record

HOUR = 3600.0


def summary(last_fire: float | None = None) -> JobSummary:
    fired = None if last_fire is None else datetime.fromtimestamp(last_fire, tz=UTC)
    return JobSummary("nightly", None, None, TimerState(True, True, None, fired))


def runs(*statuses: str):
    """Newest first, an hour apart, the newest at T0."""
    return [run_record(f"r{n}", "nightly", status, T0 - n * HOUR) for n, status in enumerate(statuses)]


def test_success_rate_counts_finished_runs_only():
    status = assess(summary(), runs("running", "succeeded", "failed", "skipped-vram", "succeeded"), T0)
    assert (status.succeeded, status.finished, status.success_rate) == (2, 4, 0.5)
    assert status.last_run.run_id == "r0"


def test_no_runs_no_rate():
    status = assess(summary(), [], T0)
    assert (status.success_rate, status.last_run, status.failing, status.missed_last_fire) == (None, None, False, False)


@pytest.mark.parametrize(
    ("statuses", "failing"),
    [
        (("failed", "oom-killed", "error"), True),
        (("running", "cuda-oom", "timed-out", "lost"), True),  # the run going on does not count yet
        (("failed", "failed", "succeeded", "failed"), False),
        (("failed", "failed"), False),  # not three yet
        (("failed", "skipped-vram", "failed", "failed"), False),  # a skip is not a failure, and breaks the streak
    ],
)
def test_failing_means_the_last_three_finished_runs_failed(statuses, failing):
    assert assess(summary(), runs(*statuses), T0 + HOUR).failing is failing


def test_a_fire_that_started_no_run_is_missed():
    fired = T0 + 2 * HOUR  # after the newest run (T0)
    assert assess(summary(fired), runs("succeeded"), fired + MISSED_GRACE_SECONDS + 1).missed_last_fire


def test_a_fire_that_started_a_run_is_not_missed():
    fired = T0 - 1  # the newest run started a second after it
    assert not assess(summary(fired), runs("succeeded"), T0 + 2 * HOUR).missed_last_fire


def test_a_fire_just_now_is_not_missed_yet():
    fired = T0 + 2 * HOUR
    assert not assess(summary(fired), runs("succeeded"), fired + MISSED_GRACE_SECONDS - 1).missed_last_fire


def test_a_timer_that_fired_for_a_job_that_never_ran_missed_it():
    assert assess(summary(T0), [], T0 + HOUR).missed_last_fire
    assert not assess(summary(None), [], T0 + HOUR).missed_last_fire  # never fired
