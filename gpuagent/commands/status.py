"""gpuagent status: every job at a glance: its timer, its last run, how its runs go, and
whether something needs a look."""

import time
from dataclasses import dataclass

from gpuagent.commands.common import JobSummary, existing_history, job_summaries
from gpuagent.model.run import SKIPPED, RunRecord, Status
from gpuagent.paths import Paths

RECENT_RUNS = 10  # the success rate is over this many runs
FAILING_STREAK = 3  # this many failed runs in a row marks a job
# A fire's run is recorded within a second or two of the timer firing; only a fire older
# than this that left no run counts as missed.
MISSED_GRACE_SECONDS = 60


@dataclass(frozen=True)
class JobStatus:
    summary: JobSummary
    recent_runs: list[RunRecord]  # newest first, at most RECENT_RUNS
    finished: int  # of the recent runs, those that have ended
    succeeded: int  # of those, the ones that succeeded
    missed_last_fire: bool  # the timer's last fire left no run in history
    failing: bool  # the last FAILING_STREAK finished runs all failed

    @property
    def last_run(self) -> RunRecord | None:
        return self.recent_runs[0] if self.recent_runs else None

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.finished if self.finished else None


@dataclass(frozen=True)
class StatusReport:
    jobs: list[JobStatus]
    systemd_problem: str | None  # why next fire, enabled and missed fires are unknown


def job_status(paths: Paths) -> StatusReport:
    listing = job_summaries(paths)
    now = time.time()
    with existing_history(paths) as store:
        recent = {job.name: store.runs(job.name, RECENT_RUNS) if store else [] for job in listing.jobs}
    return StatusReport([assess(job, recent[job.name], now) for job in listing.jobs], listing.systemd_problem)


def assess(summary: JobSummary, runs: list[RunRecord], now: float) -> JobStatus:
    """A job's health from its timer and its recent runs (newest first), at `now`."""
    finished = [run for run in runs if run.status != Status.RUNNING]
    streak = finished[:FAILING_STREAK]
    return JobStatus(
        summary=summary,
        recent_runs=runs,
        finished=len(finished),
        succeeded=sum(run.status == Status.SUCCEEDED for run in finished),
        missed_last_fire=_missed_last_fire(summary, runs, now),
        failing=len(streak) == FAILING_STREAK and all(_failed(run) for run in streak),
    )


def _failed(run: RunRecord) -> bool:
    """A skip is not a failure: nothing went wrong, the next fire will do."""
    return run.status != Status.SUCCEEDED and run.status not in SKIPPED


def _missed_last_fire(summary: JobSummary, runs: list[RunRecord], now: float) -> bool:
    """The timer fired (systemd's LastTriggerUSec) and no run started since: the service
    could not start, its agent died before recording, or the previous run was still going."""
    fired = summary.timer.last_trigger if summary.timer else None
    if fired is None or now - fired.timestamp() < MISSED_GRACE_SECONDS:
        return False
    return not runs or runs[0].started_at < fired.timestamp()
