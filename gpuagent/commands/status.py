"""gpuagent status: every job at a glance: its timer, its last run, how its runs go, and
whether something needs a look."""

import dataclasses
import os
import time
from dataclasses import dataclass

from gpuagent.core.paths import Paths
from gpuagent.host.historydb import existing_history, metric_points_of
from gpuagent.jobs.chains import circles
from gpuagent.jobs.inventory import JobSummary, job_summaries
from gpuagent.observe.health import failing, missed_last_fire
from gpuagent.observe.metrics import QueueFacts, queue_facts
from gpuagent.observe.notifications import Notification
from gpuagent.runs.record import RunRecord, Status
from gpuagent.runs.runmetrics import MetricPoint, parse_metric_name

RECENT_RUNS = 10  # the success rate is over this many runs


@dataclass(frozen=True)
class JobStatus:
    summary: JobSummary
    recent_runs: list[RunRecord]  # newest first, at most RECENT_RUNS
    finished: int  # of the recent runs, those that have ended
    succeeded: int  # of those, the ones that succeeded
    missed_last_fire: bool  # the timer's last fire left no run in history
    failing: bool  # the last FAILING_STREAK finished runs all failed
    last_notification: Notification | None = None  # the newest notification or ping about the job
    metric: MetricPoint | None = None  # the chosen metric (--metric) of the newest recent run that reported it

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
    metric: str | None = None  # the metric chosen to show (--metric)
    queue: QueueFacts | None = None  # the runs submitted and not ended
    circles: list[list[str]] = dataclasses.field(default_factory=list)  # circles of --after jobs (written by hand): never started
    host: str = ""  # this host's name (as notifications and the report say it): a script merges several hosts' answers by it


def job_status(paths: Paths, metric: str | None = None) -> StatusReport:
    """Every job's status; with `metric`, each job's latest value of it too."""
    if metric is not None:
        parse_metric_name(metric)
    listing = job_summaries(paths)
    now = time.time()
    with existing_history(paths) as store:
        recent = {job.name: store.runs(job.name, RECENT_RUNS) if store else [] for job in listing.jobs}
        notified = {job.name: store.last_notification(job.name) if store else None for job in listing.jobs}
        chosen = {job.name: _latest(metric_points_of(store, job.name, recent[job.name], metric)) for job in listing.jobs} if metric else {}
    statuses = [dataclasses.replace(assess(job, recent[job.name], now, notified[job.name]), metric=chosen.get(job.name)) for job in listing.jobs]
    afters = {job.name: job.job.after if job.job else None for job in listing.jobs}
    return StatusReport(statuses, listing.systemd_problem, metric, queue_facts(paths, None), circles(afters), os.uname().nodename)


def _latest(points: list[MetricPoint]) -> MetricPoint | None:
    """The newest of the points (newest first) whose run reported the metric."""
    return next((point for point in points if point.value is not None), None)


def assess(summary: JobSummary, runs: list[RunRecord], now: float, last_notification: Notification | None = None) -> JobStatus:
    """A job's health from its timer and its recent runs (newest first), at `now`."""
    finished = [run for run in runs if run.status != Status.RUNNING]
    fired = summary.timer.last_trigger if summary.timer else None
    return JobStatus(
        summary=summary,
        recent_runs=runs,
        finished=len(finished),
        succeeded=sum(run.status == Status.SUCCEEDED for run in finished),
        missed_last_fire=missed_last_fire(fired.timestamp() if fired else None, runs, now),
        failing=failing(runs),
        last_notification=last_notification,
    )
