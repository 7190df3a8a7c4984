"""gpuagent history: past runs, newest first, or one run in full; each with what was
sent about it (notifications and pings, and whether they arrived); or one metric the
runs reported, run by run; or a sweep's runs, ranked by a metric they reported."""

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.host.historydb import existing_history, get_run, metric_points_of
from gpuagent.observe.notifications import Notification
from gpuagent.runs.record import RunRecord, Status, parse_subject
from gpuagent.runs.runmetrics import MetricPoint

if TYPE_CHECKING:  # a sweep's ranking is loaded by --group alone (bench/cli_views.py times plain history)
    from gpuagent.queue.sweepresults import SweepResults


@dataclass(frozen=True)
class RunHistory:
    runs: list[RunRecord]
    notifications: dict[str, list[Notification]]  # by run id, oldest first; a run that sent none is absent


@dataclass(frozen=True)
class RunInFull:
    run: RunRecord
    notifications: list[Notification]
    started: list[RunRecord]  # the runs its success started (jobs that run --after its job)


def _check_status(status: str | None) -> None:
    if status is not None and status not in set(Status):
        raise InvalidInput(f"--status: unknown status {status!r}", f"use one of: {', '.join(Status)}")


def list_runs(paths: Paths, name: str | None, limit: int, status: str | None = None, since: datetime | None = None) -> RunHistory:
    if name is not None:
        parse_subject(name)
    _check_status(status)
    with existing_history(paths) as store:
        if store is None:
            return RunHistory([], {})
        runs = store.runs(name, limit, status=status, since=None if since is None else since.timestamp())
        return RunHistory(runs, store.notifications_of([run.run_id for run in runs]))


@dataclass(frozen=True)
class MetricHistory:
    job: str
    metric: str
    points: list[MetricPoint]  # newest first


def metric_history(
    paths: Paths, name: str | None, metric: str, limit: int, status: str | None = None, since: datetime | None = None
) -> MetricHistory:
    """One metric of one job's runs, each with its change from the previous successful run."""
    from gpuagent.runs.runmetrics import parse_metric_name

    if name is None:
        raise InvalidInput("--metric: give the job too", f"gpuagent history JOB --metric {metric}")
    parse_metric_name(metric)
    runs = list_runs(paths, name, limit, status, since).runs
    with existing_history(paths) as store:
        return MetricHistory(name, metric, metric_points_of(store, name, runs, metric))


def run_in_full(paths: Paths, run_id: str) -> RunInFull:
    run = get_run(paths, run_id)
    with existing_history(paths) as store:
        notifications = store.notifications_of([run_id]).get(run_id, []) if store else []
        started = store.started_by(run_id) if store else []
    return RunInFull(run, notifications, started)


def group_history(
    paths: Paths,
    group_id: str,
    metric: str | None,
    highest_first: bool,
    limit: int | None,
    status: str | None = None,
    since: datetime | None = None,
) -> "SweepResults":
    """A sweep's runs, ranked by `metric` (lowest first, or highest), or oldest first
    without one; each combination once (its last attempt). `status` and `since` choose
    the runs that are ranked, `limit` how many of the ranked are kept."""
    from gpuagent.queue.sweepresults import ranked, ranking_order, sweep_runs

    order = ranking_order(metric, highest_first)
    _check_status(status)
    with existing_history(paths) as store:
        runs = sweep_runs(store, group_id)
    chosen = [run for run in runs if (status is None or run.status == status) and (since is None or run.started_at >= since.timestamp())]
    results = ranked(group_id, chosen, metric, order, len(runs))
    return results if limit is None else dataclasses.replace(results, runs=results.runs[:limit])
