"""gpuagent report: the jobs' runs as one HTML page (its own module: the page's views and
charts are for it alone)."""

from pathlib import Path
from typing import Annotated

import click
import typer

from gpuagent.cli.app import click_commands, command_set, out, paths
from gpuagent.cli.options import complete_job, since_moment
from gpuagent.commands.report import check_output, gather_report, save_page
from gpuagent.core.errors import InvalidInput
from gpuagent.views.htmlreport import report_page
from gpuagent.views.screen import Line, emit

reports = command_set()


@reports.command()
def report(
    name: Annotated[str | None, typer.Argument(help="Only this job (default: every job).", autocompletion=complete_job)] = None,
    since: Annotated[str, typer.Option("--since", help="Runs started since WHEN: 30d (the default), 6h, today, 2026-01-31 02:00.")] = "30d",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the page to this file, whole or not at all (default: stdout, unless a terminal).")
    ] = None,
) -> None:
    """Write an HTML report of the jobs' runs: success rate, runs by status, charts of
    duration, peak VRAM and each run metric, the failures and their reasons, the next fires.
    One self-contained file: it opens offline."""
    if output is None and out.is_terminal:
        raise InvalidInput("report: HTML is not for a terminal", "write it to a file: -o report.html (or redirect: > report.html)")
    if output is not None:
        check_output(output)  # before the work, not after it
    gathered = gather_report(paths(), name, since_moment(since))
    page = report_page(gathered)
    if output is None:
        out.stream.write(page)
        return
    save_page(output, page)
    runs = sum(len(job.runs) for job in gathered.jobs)
    emit(out, Line(f"wrote {output}: {len(gathered.jobs)} job(s), {runs} run(s) since {since}"))


def commands() -> dict[str, click.Command]:
    return click_commands(reports)
