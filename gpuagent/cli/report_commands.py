"""gpuagent report: the jobs' runs, or a sweep's, as one HTML page (its own module: the page's views and
charts are for it alone)."""

from pathlib import Path
from typing import Annotated

import click
import typer

from gpuagent.cli.app import click_commands, command_set, out, paths
from gpuagent.cli.options import complete_job, since_moment
from gpuagent.commands.report import check_output, gather_group_report, gather_report, save_page
from gpuagent.core.errors import InvalidInput
from gpuagent.views.htmlreport import report_page
from gpuagent.views.screen import Line, emit

reports = command_set()


@reports.command()
def report(
    name: Annotated[
        str | None, typer.Argument(help="Only this job, or the runs submitted as queue/NAME (default: every job).", autocompletion=complete_job)
    ] = None,
    since: Annotated[str, typer.Option("--since", help="Runs started since WHEN: 30d (the default), 6h, today, 2026-01-31 02:00.")] = "30d",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the page to this file, whole or not at all (default: stdout, unless a terminal).")
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group", help="Report this sweep group instead (its id from submit --sweep): all its runs with their values, whatever --since."
        ),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="With --group: rank the group's runs by this metric they reported, lowest first.")
    ] = None,
    highest_first: Annotated[
        bool, typer.Option("--highest-first", help="With --group and --metric: rank the highest value first (accuracy), not the lowest (loss).")
    ] = False,
) -> None:
    """Write an HTML report of the jobs' runs: success rate, runs by status, charts of
    duration, peak VRAM and each run metric, the failures and their reasons, the next fires.
    Or, with --group, a sweep's runs ranked by --metric. One self-contained file: it opens
    offline."""
    if group is None and (metric is not None or highest_first):
        raise InvalidInput("--metric and --highest-first rank a sweep group's runs: give --group too", "gpuagent report --group G --metric NAME")
    if group is not None and name is not None:
        raise InvalidInput("--group: a sweep group is named by its id alone", f"gpuagent report --group {group} (without a job)")
    if output is None and out.is_terminal:
        raise InvalidInput("report: HTML is not for a terminal", "write it to a file: -o report.html (or redirect: > report.html)")
    if output is not None:
        check_output(output)  # before the work, not after it
    if group is None:
        gathered = gather_report(paths(), name, since_moment(since))
        what = f"{len(gathered.jobs)} job(s), {sum(len(job.runs) for job in gathered.jobs)} run(s) since {since}"
    else:
        gathered = gather_group_report(paths(), group, metric, highest_first)
        what = f"group {group}, {len(gathered.group.runs)} run(s)"
    page = report_page(gathered)
    if output is None:
        out.stream.write(page)
        return
    save_page(output, page)
    emit(out, Line(f"wrote {output}: {what}"))


def commands() -> dict[str, click.Command]:
    return click_commands(reports)
