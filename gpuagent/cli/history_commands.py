"""gpuagent history: past runs (its own module: it reads the history store alone, and
job files with their parsers would cost it ~15 ms, bench/cli_views.py)."""

from typing import Annotated

import click
import typer

from gpuagent.cli.app import click_commands, command_set, paths, show
from gpuagent.cli.options import AsJson, complete_job, since_moment
from gpuagent.commands.history import group_history, list_runs, metric_history, run_in_full
from gpuagent.core.errors import InvalidInput
from gpuagent.core.values import MAX_LISTED, parse_count
from gpuagent.views import jsondoc, text

runs = command_set()
DEFAULT_LIMIT = 20


@runs.command()
def history(
    name: Annotated[str | None, typer.Argument(help="Only this job's runs.", autocompletion=complete_job)] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only runs started since WHEN: 6h, 2d, today, 2026-01-31 02:00.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs that ended so: succeeded, failed, oom-killed, ...")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="How many runs to show (default: 20; with --group, all of the group's).")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Show this one run in full, with its log tail.")] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="Show this metric the job's runs reported, with its change from the previous successful run; "
            "with --group, rank the group's runs by it, lowest first.",
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="Show the runs of this sweep group (its id from submit --sweep), oldest first, with their sweep values."),
    ] = None,
    highest_first: Annotated[
        bool, typer.Option("--highest-first", help="With --group and --metric: rank the highest value first (accuracy), not the lowest (loss).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Show past runs, newest first; or one run in full (--run); or one metric (--metric).
    With --group, a sweep's runs with their values: oldest first, or ranked by --metric."""
    if limit is not None:
        parse_count(limit, "--limit", 1, MAX_LISTED)
    if group is not None:
        if name is not None or run_id is not None:
            raise InvalidInput("--group: a sweep group is named by its id alone", f"gpuagent history --group {group} (without a job or --run)")
        results = group_history(paths(), group, metric, highest_first, limit, status, since_moment(since))
        show(results, text.group_history, jsondoc.group_history, as_json)
        return
    if highest_first:
        raise InvalidInput(
            "--highest-first ranks a sweep group's runs: give --group and --metric", "gpuagent history --group G --metric NAME --highest-first"
        )
    shown = DEFAULT_LIMIT if limit is None else limit
    if run_id is not None:
        show(run_in_full(paths(), run_id), text.run_detail, jsondoc.run_detail, as_json)
    elif metric is not None:
        show(metric_history(paths(), name, metric, shown, status, since_moment(since)), text.metric_history, jsondoc.metric_history, as_json)
    else:
        show(list_runs(paths(), name, shown, status, since_moment(since)), text.runs, jsondoc.runs, as_json)


def commands() -> dict[str, click.Command]:
    return click_commands(runs)
