"""The views of jobs and their runs: status, history, logs."""

from typing import Annotated

import click
import typer

from gpuagent.cli.app import click_commands, command_set, out, paths, show
from gpuagent.cli.options import AsJson, JobName, complete_job, since_moment
from gpuagent.commands.history import list_runs, metric_history, run_in_full
from gpuagent.commands.logs import job_logs
from gpuagent.commands.status import job_status
from gpuagent.views import jsondoc, text

views = command_set()


@views.command()
def status(
    metric: Annotated[str | None, typer.Option("--metric", help="Also show this metric of each job's latest run that reported it.")] = None,
    as_json: AsJson = False,
) -> None:
    """Every job at a glance: schedule, timer, last run, success rate, and what needs a look."""
    show(job_status(paths(), metric), text.status, jsondoc.status, as_json)


@views.command()
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


@views.command()
def logs(
    name: JobName,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run (an id from `gpuagent history`).")] = None,
    lines: Annotated[int | None, typer.Option("--lines", "-n", min=1, help="Only the last N lines.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only lines since WHEN: 30m, 6h, today, 2026-01-31 02:00.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines as they come (Ctrl-C stops).")] = False,
) -> None:
    """Show the journal of a job's runs (journalctl -u gpuagent@NAME)."""
    for line in job_logs(paths(), name, run_id, lines, since_moment(since), follow):
        out.stream.write(line)
        out.stream.flush()


def commands() -> dict[str, click.Command]:
    return click_commands(views)
