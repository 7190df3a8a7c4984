"""gpuagent report: how each job's runs went over a period, or how a sweep's runs did,
gathered for one HTML page (views/htmlreport.py draws it), and the page written where it
was asked for."""

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gpuagent.core.errors import GpuAgentError, InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.core.values import parse_name
from gpuagent.host.calendar import next_elapses
from gpuagent.host.files import check_output_file, write_output
from gpuagent.host.historydb import existing_history
from gpuagent.jobs.inventory import JobList, JobSummary, job_summaries, require_known_job
from gpuagent.queue.sweepresults import SweepResults, ranked, ranking_order, sweep_runs
from gpuagent.runs.record import RunKind, RunRecord, Status, kind_of, parse_subject

NEXT_FIRES = 5


@dataclass(frozen=True)
class JobReport:
    summary: JobSummary
    runs: list[RunRecord]  # started in the period, oldest first
    next_fires: list[datetime]  # the calendar's next fires, UTC; empty for --every, --after only and a disabled timer
    next_fires_problem: str | None  # why they could not be computed

    @property
    def finished(self) -> list[RunRecord]:
        return [run for run in self.runs if run.status != Status.RUNNING]

    @property
    def success_rate(self) -> float | None:
        """Of the finished runs, the share that succeeded (a skip did not), as `status` counts."""
        finished = self.finished
        return sum(run.status == Status.SUCCEEDED for run in finished) / len(finished) if finished else None


@dataclass(frozen=True)
class Report:
    host: str
    jobs: list[JobReport]
    since: datetime  # the period's start
    generated_at: datetime
    systemd_problem: str | None  # why the timers' states are missing
    group: SweepResults | None = None  # a sweep's report: its runs, and no jobs


def gather_report(paths: Paths, name: str | None, since: datetime) -> Report:
    """Every job's runs since `since` (or one job's: NotFound when there is no such job,
    or the runs submitted as `queue/NAME`), its timer and its next fires."""
    if name is not None and kind_of(name) == RunKind.QUEUED:
        # runs submitted to the queue: no job file, no timer, only their runs
        listing = JobList([JobSummary(parse_subject(name, "name"), None, None, None)], None)
    else:
        if name is not None:
            require_known_job(paths, parse_name(name))
        listing = job_summaries(paths, only=None if name is None else [name])
    summaries = listing.jobs
    if name is not None and not summaries:
        summaries = [JobSummary(name, None, "its job file is gone: only its timer is left", None)]
    with existing_history(paths) as store:
        runs = {summary.name: store.runs_in_period(summary.name, since.timestamp()) if store else [] for summary in summaries}
    jobs = [JobReport(summary, runs[summary.name], *_next_fires(summary)) for summary in summaries]
    return Report(os.uname().nodename, jobs, since, datetime.now().astimezone(), listing.systemd_problem)


def gather_group_report(paths: Paths, group_id: str, metric: str | None, highest_first: bool) -> Report:
    """Every run of sweep group `group_id` (NotFound: history has none), ranked by
    `metric` when one is given."""
    order = ranking_order(metric, highest_first)
    with existing_history(paths) as store:
        runs = sweep_runs(store, group_id)
    since = datetime.fromtimestamp(min(run.started_at for run in runs)).astimezone()
    results = ranked(group_id, runs, metric, order, len(runs))
    return Report(os.uname().nodename, [], since, datetime.now().astimezone(), None, results)


def _next_fires(summary: JobSummary) -> tuple[list[datetime], str | None]:
    """The calendar's next fires, where the timer will fire them: none for a job without
    a timer, nor for a disabled timer (its calendar would name times that never come)."""
    if summary.job is None or not summary.job.schedule.has_timer:
        return [], None
    if summary.timer is not None and summary.timer.loaded and not summary.timer.enabled:
        return [], None
    try:
        return next_elapses(summary.job.schedule, NEXT_FIRES), None
    except GpuAgentError as err:
        return [], err.message


def check_output(path: Path) -> None:
    """InvalidInput unless `path` can be written as a file, before anything is gathered."""
    check_output_file(path)
    if not path.parent.is_dir():
        raise InvalidInput(f"-o: no directory {path.parent}", "create it first, or name a file in a directory that exists")


def save_page(path: Path, page: str) -> None:
    """Write the page whole or not at all: a reader (a browser, a web server) never sees half."""
    check_output(path)
    write_output(path, page)
