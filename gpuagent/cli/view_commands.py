"""The views of jobs and their output: status, logs."""

from typing import Annotated

import click
import typer

from gpuagent.cli.app import click_commands, command_set, out, paths, show
from gpuagent.cli.options import AsJson, JobName, since_moment
from gpuagent.commands.logs import job_logs
from gpuagent.commands.status import job_status
from gpuagent.core.values import MAX_LISTED, parse_count, visible
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
def logs(
    name: JobName,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run (an id from `gpuagent history`).")] = None,
    lines: Annotated[int | None, typer.Option("--lines", "-n", help="Only the last N lines.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only lines since WHEN: 30m, 6h, today, 2026-01-31 02:00.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines as they come (Ctrl-C stops).")] = False,
) -> None:
    """Show the journal of a job's runs (journalctl -u gpuagent@NAME)."""
    if lines is not None:
        parse_count(lines, "--lines", 1, MAX_LISTED)
    for line in job_logs(paths(), name, run_id, lines, since_moment(since), follow):
        out.stream.write(visible(line))  # what a container printed: shown, not obeyed
        out.stream.flush()


def commands() -> dict[str, click.Command]:
    return click_commands(views)
