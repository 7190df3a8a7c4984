"""A sweep's results where it ran: its runs as history keeps them, one per combination of
its values, ranked by a metric they reported, for `gpuagent history --group G --metric
val_loss` and `gpuagent report --group G`.

A metric ranks lowest first unless asked otherwise: the numbers runs report most are
losses and errors. A combination that was retried counts once, as its last attempt; runs
that report equal values share a rank (1, 2, 2, 4) and keep the order they started in;
the runs that did not report the metric (still running, failed before writing it, or
never writing it) come after the ranked ones, oldest first.
"""

from dataclasses import dataclass
from enum import StrEnum

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.host.historydb import HistoryStore
from gpuagent.runs.record import RunRecord
from gpuagent.runs.runmetrics import parse_metric_name


class Order(StrEnum):
    STARTED = "started"  # no metric: the order the runs started in
    LOWEST_FIRST = "lowest-first"
    HIGHEST_FIRST = "highest-first"


@dataclass(frozen=True)
class SweepRun:
    run: RunRecord  # the combination's last attempt
    value: float | None  # the metric it reported; None: no metric asked, or it reported none
    rank: int | None  # 1 for the best; None: not ranked


@dataclass(frozen=True)
class SweepResults:
    group_id: str
    metric: str | None
    order: Order
    runs: list[SweepRun]  # ranked best first, then the unranked ones oldest first
    runs_in_group: int  # the group's runs, before any filter or limit
    unreported: int  # of the runs ranked (before a limit), those that did not report the metric


def ranking_order(metric: str | None, highest_first: bool) -> Order:
    """The order `--metric` and `--highest-first` ask for; InvalidInput for a name no run
    could report, or --highest-first without a metric."""
    if metric is None:
        if highest_first:
            raise InvalidInput("--highest-first: give --metric too", "--metric NAME --highest-first ranks the highest value of NAME first")
        return Order.STARTED
    parse_metric_name(metric)
    return Order.HIGHEST_FIRST if highest_first else Order.LOWEST_FIRST


def sweep_runs(store: HistoryStore | None, group_id: str) -> list[RunRecord]:
    """The group's runs, each combination's last attempt, in the order the combinations
    started; NotFound where history has none of the group."""
    runs = [] if store is None else store.group_runs(group_id)
    if not runs:
        raise NotFound(
            f"no runs of group {group_id!r} in history", "a group's runs are recorded once they start: `gpuagent queue` shows those still waiting"
        )
    return last_attempts(runs)


def last_attempts(runs: list[RunRecord]) -> list[RunRecord]:
    """One record per combination, its last attempt's, in the order the first attempts
    started (`runs` oldest first): a retry is the same combination run again."""
    latest: dict[str, RunRecord] = {}
    for run in runs:
        first = run.first_run_id or run.run_id
        if first not in latest or run.attempt >= latest[first].attempt:
            latest[first] = run
    return list(latest.values())


def ranked(group_id: str, runs: list[RunRecord], metric: str | None, order: Order, runs_in_group: int) -> SweepResults:
    """`runs` (oldest first) ranked by `metric` in `order` (ranking_order's); oldest first
    without a metric."""
    if metric is None:
        return SweepResults(group_id, None, Order.STARTED, [SweepRun(run, None, None) for run in runs], runs_in_group, 0)
    values = [(run, (run.metrics or {}).get(metric)) for run in runs]
    reported = [(run, value) for run, value in values if value is not None]
    # sorted() is stable: equal values keep the order their runs started in
    reported.sort(key=lambda pair: -pair[1] if order == Order.HIGHEST_FIRST else pair[1])
    ranks: list[SweepRun] = []
    for index, (run, value) in enumerate(reported):
        tied = index > 0 and value == ranks[-1].value
        ranks.append(SweepRun(run, value, ranks[-1].rank if tied else index + 1))
    unranked = [SweepRun(run, None, None) for run, value in values if value is None]
    return SweepResults(group_id, metric, order, ranks + unranked, runs_in_group, len(unranked))
