"""The commands that only read: status, history, logs, gpus, report, metrics, doctor."""

from pathlib import Path
from typing import Annotated

import click
import typer

from gpuagent.cli.app import click_commands, command_set, out, paths, show
from gpuagent.cli.options import AsJson, JobName, complete_job, since_moment
from gpuagent.commands.doctor import diagnose
from gpuagent.commands.gpus import read_gpu_report
from gpuagent.commands.history import list_runs, metric_history, run_in_full
from gpuagent.commands.logs import job_logs
from gpuagent.commands.report import check_output, gather_report, save_page
from gpuagent.commands.status import job_status
from gpuagent.core.errors import InvalidInput
from gpuagent.observe.metrics import exposition
from gpuagent.views import jsondoc, text
from gpuagent.views.htmlreport import report_page
from gpuagent.views.screen import Line, emit

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


@views.command()
def gpus(as_json: AsJson = False) -> None:
    """Every GPU: memory, utilisation, temperature, power, which job's (or notebook's) processes are on it, and what is reserved."""
    show(read_gpu_report(paths()), text.gpus, jsondoc.gpus, as_json)


@views.command()
def doctor(as_json: AsJson = False) -> None:
    """Check this host can run jobs: systemd, docker and its GPU support, the NVIDIA driver,
    the units gpuagent ships, directories, job files. Exit 1 when something stops runs."""
    found = diagnose(paths())
    show(found, text.doctor, jsondoc.doctor, as_json)
    if found.blocking:
        raise typer.Exit(1)


@views.command()
def metrics() -> None:
    """Print the Prometheus metrics gpuagent writes for node_exporter's textfile collector."""
    out.stream.write(exposition(paths()))


def commands() -> dict[str, click.Command]:
    return click_commands(views)
