"""gpuagent history: past runs (its own module: it reads the history store alone, and
job files with their parsers would cost it ~15 ms, bench/cli_views.py)."""

from typing import Annotated

import click
import typer

from gpuagent.cli.app import click_commands, command_set, paths, show
from gpuagent.cli.options import AsJson, complete_job, since_moment
from gpuagent.commands.history import list_runs, metric_history, run_in_full
from gpuagent.views import jsondoc, text

runs = command_set()


@runs.command()
def history(
    name: Annotated[str | None, typer.Argument(help="Only this job's runs.", autocompletion=complete_job)] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only runs started since WHEN: 6h, 2d, today, 2026-01-31 02:00.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs that ended so: succeeded, failed, oom-killed, ...")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs to show.")] = 20,
    run_id: Annotated[str | None, typer.Option("--run", help="Show this one run in full, with its log tail.")] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Show this metric the job's runs reported, with its change from the previous successful run.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show past runs, newest first; or one run in full (--run); or one metric (--metric)."""
    if run_id is not None:
        show(run_in_full(paths(), run_id), text.run_detail, jsondoc.run_detail, as_json)
    elif metric is not None:
        show(metric_history(paths(), name, metric, limit, status, since_moment(since)), text.metric_history, jsondoc.metric_history, as_json)
    else:
        show(list_runs(paths(), name, limit, status, since_moment(since)), text.runs, jsondoc.runs, as_json)


def commands() -> dict[str, click.Command]:
    return click_commands(runs)
