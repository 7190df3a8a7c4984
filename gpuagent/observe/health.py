"""How a job's runs are going, read from its runs (newest first) and its timer's last
fire: the judgements `status` shows and the metrics export. Pure."""

from collections.abc import Sequence

from gpuagent.runs.record import SKIPPED, RunRecord, Status

FAILING_STREAK = 3  # this many failed runs in a row marks a job
# A fire's run is recorded within a second or two of the timer firing; only a fire older
# than this that left no run counts as missed.
MISSED_GRACE_SECONDS = 60


# Ended and not well. A skip is not a failure: nothing went wrong, the next fire will do;
# nor is a preemption: the run waits to run again.
FAILURES = frozenset(Status) - {Status.SUCCEEDED, Status.RUNNING, Status.PREEMPTED} - SKIPPED


def failing(runs: Sequence[RunRecord]) -> bool:
    """The last FAILING_STREAK finished runs all failed."""
    streak = [run for run in runs if run.status != Status.RUNNING][:FAILING_STREAK]
    return len(streak) == FAILING_STREAK and all(run.status in FAILURES for run in streak)


def missed_last_fire(last_trigger: float | None, runs: Sequence[RunRecord], now: float) -> bool:
    """The timer fired (systemd's LastTriggerUSec, epoch seconds) and no run started since:
    the service could not start, its agent died before recording, or the previous run was
    still going."""
    if last_trigger is None or now - last_trigger < MISSED_GRACE_SECONDS:
        return False
    return not runs or runs[0].started_at < last_trigger
