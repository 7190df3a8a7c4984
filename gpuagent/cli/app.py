"""The command line: parse, call a command, render what it returns.

This is the only place that prints errors and picks exit codes: 0 success, 1 failure,
2 bad usage (an option, argument or job file to fix), 130 interrupted. Heavy modules
(docker, pynvml, and Rich, which only a terminal needs) are imported inside the commands
that need them, so `gpuagent --help` stays fast.
"""

import inspect
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gpuagent.core.errors import GpuAgentError
from gpuagent.views.screen import Line, Screen, emit


class _Commands(typer.core.TyperGroup):
    """The one error handler: every command's GpuAgentError is shown as `error: ...` and
    `hint: ...` on stderr, and the process exits with its code (a traceback with --debug)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GpuAgentError as error:
            if settings.debug:
                raise
            from gpuagent.views import text as render

            render.error(err, error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Commands,
    help="Scheduled GPU training runs on this server: one short-lived container per run, "
    "started by a systemd timer, admitted on free VRAM, recorded in history.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    # Click's plain help, not Typer's Rich panels: formatting help with Rich imports
    # ~100 ms of modules, two thirds of `gpuagent --help` (bench/cli_views.py).
    rich_markup_mode=None,
)
out = Screen()
err = Screen(stderr=True)


class Settings:
    user_mode: bool | None = None
    debug: bool = False


settings = Settings()


def _paths():
    from gpuagent.core.paths import resolve_paths

    return resolve_paths(settings.user_mode)


def _print_version(value: bool) -> None:
    if value:
        from gpuagent import __version__

        typer.echo(f"gpuagent {__version__}")
        raise typer.Exit()


def _complete_job(ctx: typer.Context, incomplete: str) -> list[str]:
    """Job names for shell completion, in the mode (--user/--system) on the line so far."""
    from gpuagent.core.paths import resolve_paths
    from gpuagent.jobs.catalog import job_names

    paths = resolve_paths(ctx.find_root().params.get("user"))
    return [name for name in job_names(paths.jobs_dir) if name.startswith(incomplete)]


JobName = Annotated[str, typer.Argument(help="The job.", autocompletion=_complete_job)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (README.md, 'JSON output', lists its fields).")]


def _show(view: str, result: Any, as_json: bool) -> None:
    """Print `result` through render.VIEW, or as JSON through render_json.VIEW."""
    if as_json:
        from gpuagent.views import jsondoc as render_json

        out.stream.write(render_json.dumps(getattr(render_json, view)(result)))
    else:
        from gpuagent.views import text as render

        getattr(render, view)(out, result)


def _since(text: str | None):
    """--since WHEN as a moment."""
    from datetime import datetime

    from gpuagent.core.quantities import parse_since

    return None if text is None else parse_since(text, datetime.now().astimezone())


@app.callback()
def main_options(
    user: Annotated[
        bool | None,
        typer.Option("--user/--system", help="Use your own systemd user manager and XDG directories (default: --system as root, --user otherwise)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    settings.user_mode = user
    settings.debug = debug


def add(
    name: str,
    command: list[str] | None,
    at,
    on,
    every,
    cron,
    tz,
    disabled: bool,
    replace: bool,
    dry_run: bool,
    notify: list[str] | None,
    notify_on: str | None,
    ping: str | None,
    **settings,
) -> None:
    """Add a scheduled job: gpuagent add NAME --at 02:00 --image IMG [OPTIONS] -- COMMAND [ARGS...]"""
    from gpuagent.commands.add import add_job
    from gpuagent.jobs.schedule import parse_schedule
    from gpuagent.views import text as render

    schedule = parse_schedule(at=at, on=on, every=every, cron=cron, tz=tz)
    options = {**settings, "command": command or []}
    notifications = dict(notify=notify or (), notify_on=notify_on, ping=ping)
    result = add_job(_paths(), name, schedule, options, replace=replace, enabled=not disabled, dry_run=dry_run, **notifications)
    render.add_result(out, result)
    if not dry_run:
        _refresh_metrics()


NOTIFY_HELP = (
    "Notify this Apprise URL (repeatable): slack://..., discord://..., ntfy://TOPIC, mailto://..., tgram://..., json://HOST:PORT/PATH. "
    "Kept in a 0600 file, never shown; --replace without --notify/--notify-on/--ping keeps the job's."
)
NOTIFY_ON_HELP = "Events the --notify URLs get, comma-separated: failure, success, skip, recovered, lost (default: failure,lost)."
PING_HELP = "Dead man's switch (healthchecks.io): POST URL/start as a run starts, URL when it exits 0, URL/fail with its log tail otherwise."


def parameter(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default)


def _setting_parameter(setting, *, for_add: bool, help: str | None = None) -> inspect.Parameter:
    """The option of one row of the settings table. For `add` --image is required and a
    boolean defaults to the row's default; for a notebook (over a --like job) neither is:
    a boolean not given is None. `help` replaces the row's where a notebook differs."""
    from gpuagent.jobs.settings import BOOLEAN, STRING_TABLE, STRINGS

    option = typer.Option(*setting.options, help=help or setting.help, metavar=setting.metavar)
    if setting.kind is BOOLEAN:
        return parameter(setting.field, Annotated[bool if for_add else bool | None, option], setting.default if for_add else None)
    if setting.kind in (STRINGS, STRING_TABLE):
        return parameter(setting.field, Annotated[list[str] | None, option])
    required = for_add and setting.field == "image"
    return parameter(setting.field, Annotated[setting.kind.cli_type | None, option], ... if required else None)


def _add_parameters() -> list[inspect.Parameter]:
    """`add`'s arguments and options: the job's name and command, the schedule, one option
    per row of the settings table (jobs/settings.py), and what `add` itself does."""
    from gpuagent.jobs.schedule import KIND_HELP, ZONE_HELP, ZONE_KEY
    from gpuagent.jobs.settings import BY_FIELD, SETTINGS

    parameters = [
        parameter("name", Annotated[str, typer.Argument(help="Job name: a-z, 0-9, '-' and '_', up to 63 characters.")], ...),
        parameter("command", Annotated[list[str] | None, typer.Argument(help=BY_FIELD["command"].help)]),
        *(parameter(kind, Annotated[str | None, typer.Option(f"--{kind}", help=words, metavar="SPEC")]) for kind, words in KIND_HELP.items()),
        parameter(ZONE_KEY, Annotated[str | None, typer.Option(f"--{ZONE_KEY}", help=ZONE_HELP, metavar="ZONE")]),
    ]
    parameters += [_setting_parameter(setting, for_add=True) for setting in SETTINGS if setting.options]
    parameters += [
        parameter("disabled", Annotated[bool, typer.Option("--disabled", help="Write the job but leave its timer off.")], False),
        parameter("replace", Annotated[bool, typer.Option("--replace", help="Overwrite a job of the same name.")], False),
        parameter("dry_run", Annotated[bool, typer.Option("--dry-run", help="Print the files it would write; change nothing.")], False),
        # Not job file settings: they go to the job's notify file (0600: URLs hold tokens).
        parameter("notify", Annotated[list[str] | None, typer.Option("--notify", help=NOTIFY_HELP, metavar="URL")]),
        parameter("notify_on", Annotated[str | None, typer.Option("--notify-on", help=NOTIFY_ON_HELP, metavar="EVENTS")]),
        parameter("ping", Annotated[str | None, typer.Option("--ping", help=PING_HELP, metavar="URL")]),
    ]
    return parameters


add.__signature__ = inspect.Signature(_add_parameters())
add.__annotations__ = {parameter.name: parameter.annotation for parameter in add.__signature__.parameters.values()}
app.command(no_args_is_help=True)(add)


@app.command("list")
def list_command(as_json: AsJson = False) -> None:
    """List the jobs, their schedules and timers."""
    from gpuagent.commands.list_jobs import list_jobs

    _show("job_list", list_jobs(_paths()), as_json)


@app.command()
def status(
    metric: Annotated[str | None, typer.Option("--metric", help="Also show this metric of each job's latest run that reported it.")] = None,
    as_json: AsJson = False,
) -> None:
    """Every job at a glance: schedule, timer, last run, success rate, and what needs a look."""
    from gpuagent.commands.status import job_status

    _show("status", job_status(_paths(), metric), as_json)


@app.command()
def show(name: JobName, as_json: AsJson = False) -> None:
    """Show a job: its settings, its timer and its next 3 fire times."""
    from gpuagent.commands.show import show_job

    _show("job_detail", show_job(_paths(), name), as_json)


@app.command()
def remove(name: JobName) -> None:
    """Remove a job's timer and file. Its history is kept."""
    from gpuagent.commands.remove import remove_job

    for path in remove_job(_paths(), name):
        emit(out, Line(f"removed {path}"))
    _refresh_metrics()


@app.command()
def sync(dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what it would change; change nothing.")] = False) -> None:
    """Make every job's timer what its job file says: write changed and missing timers (a new
    job's is enabled, others keep their state), remove those whose job file is gone, write
    the units gpuagent ships where missing. Exit 2 when a job file does not load."""
    from gpuagent.commands.sync import sync_timers
    from gpuagent.views import text as render

    result = sync_timers(_paths(), dry_run=dry_run)
    render.sync_result(out, result)
    if not dry_run:
        _refresh_metrics()
    for problem in result.broken.values():
        render.error(err, problem)
    if result.broken:
        raise typer.Exit(2)


@app.command()
def enable(name: JobName) -> None:
    """Switch a job's timer on."""
    from gpuagent.commands.toggle import set_enabled

    set_enabled(_paths(), name, True)
    emit(out, Line(f"job {name}: timer enabled"))
    _refresh_metrics()


@app.command()
def disable(name: JobName) -> None:
    """Switch a job's timer off (the job and its history stay)."""
    from gpuagent.commands.toggle import set_enabled

    set_enabled(_paths(), name, False)
    emit(out, Line(f"job {name}: timer disabled"))
    _refresh_metrics()


@app.command()
def trigger(
    name: JobName,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run: its output, then how it ended (Ctrl-C leaves it running).")] = False,
) -> None:
    """Run a job now, through systemd, so its output is in the journal like a timer run's."""
    from gpuagent.commands.trigger import follow_run, trigger_job

    paths = _paths()
    triggered = trigger_job(paths, name)
    if not wait:
        emit(out, Line(f"started {triggered.unit}: follow it with `gpuagent logs {name} -f`, see it in `gpuagent history {name}`"))
        return
    from gpuagent.views import text as render

    try:
        ended = render.follow(out, follow_run(paths, name, triggered), name)
        status = _exit_status(ended) or _follow_chain(paths, ended)
    except KeyboardInterrupt:
        emit(err, Line(f"detached: the run goes on (`gpuagent logs {name} -f` to follow it again)"))
        raise typer.Exit(130) from None
    raise typer.Exit(status)


def _follow_chain(paths, ended) -> int:
    """Follow the runs the ended run's success started (--after), and theirs, one after
    another; the first non-zero exit status among them, else 0."""
    from gpuagent.commands.trigger import follow_invocation, started_followers
    from gpuagent.jobs.catalog import load_job
    from gpuagent.views import text as render

    status, pending = 0, started_followers(paths, ended.run)
    while pending:
        run = pending.pop(0)
        emit(out, Line(f"run {run.run_id} of {run.job}, started by the success of run {run.upstream_run_id}:"))
        uses_gpu = load_job(paths.job_file(run.job), on_host=False).uses_gpu
        ended = render.follow(out, follow_invocation(paths, run.job, run.invocation_id, uses_gpu), run.job)
        status = status or _exit_status(ended)
        pending += started_followers(paths, ended.run)
    return status


def _exit_status(ended) -> int:
    return 1 if ended.exit_status is None else ended.exit_status


@app.command()
def run(name: Annotated[str, typer.Argument(help="The job.")]) -> None:
    """Run a job once in the foreground (what its timer does). Exit 0 if it succeeded or was skipped."""
    from gpuagent.runs.runner import run_job

    _, status = run_job(_paths(), name, output=sys.stdout, log=_agent_log)
    raise typer.Exit(status)


# How systemd says the service ended, to its ExecStopPost ($SERVICE_RESULT) and to its
# failure handler ($MONITOR_SERVICE_RESULT): these two mean `gpuagent run` exited by
# itself (0, or an exit code it chose), after removing its container and recording its
# run, so the reap has nothing to do and skips docker's import and API calls. A signal,
# core dump, timeout or watchdog means it may not have: reap then.
AGENT_ENDED_ITSELF = frozenset({"success", "exit-code"})


@app.command()
def reap(name: Annotated[str, typer.Argument(help="The job.")]) -> None:
    """Stop and remove containers of a job that outlived their agent (the service's ExecStopPost)."""
    if os.environ.get("SERVICE_RESULT") in AGENT_ENDED_ITSELF:
        return
    from gpuagent.commands.common import reap_job

    for container in reap_job(_paths(), name, log=_agent_log):
        emit(out, Line(f"reaped {container}"))


@app.command("on-failure", hidden=True)
def on_failure(name: Annotated[str, typer.Argument(help="The job.")]) -> None:
    """Reap a failed run's leftovers and notify `lost` for a run that did not record its end (the service's OnFailure= handler)."""
    from gpuagent.commands.on_failure import handle_failure

    # systemd sets these only for a handler one unit points at; by hand, none is set.
    result = os.environ.get("MONITOR_SERVICE_RESULT") or None
    invocation = os.environ.get("MONITOR_INVOCATION_ID") or None
    handled = handle_failure(_paths(), name, invocation, log=_agent_log, reap=result not in AGENT_ENDED_ITSELF)
    for container in handled.reaped:
        emit(out, Line(f"reaped {container}"))
    emit(
        out,
        Line(
            f"gpuagent@{name}.service failed ({result or 'result unknown'}, invocation {invocation or 'unknown'}): "
            f"{handled.announced} lost run(s) notified"
        ),
    )


@app.command()
def history(
    name: Annotated[str | None, typer.Argument(help="Only this job's runs.", autocompletion=_complete_job)] = None,
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
    from gpuagent.commands.history import list_runs, metric_history, run_in_full

    if run_id is not None:
        _show("run_detail", run_in_full(_paths(), run_id), as_json)
        return
    if metric is not None:
        _show("metric_history", metric_history(_paths(), name, metric, limit, status, _since(since)), as_json)
        return
    _show("runs", list_runs(_paths(), name, limit, status, _since(since)), as_json)


@app.command()
def report(
    name: Annotated[str | None, typer.Argument(help="Only this job (default: every job).", autocompletion=_complete_job)] = None,
    since: Annotated[str, typer.Option("--since", help="Runs started since WHEN: 30d (the default), 6h, today, 2026-01-31 02:00.")] = "30d",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the page to this file, whole or not at all (default: stdout, unless a terminal).")
    ] = None,
) -> None:
    """Write an HTML report of the jobs' runs: success rate, runs by status, charts of
    duration, peak VRAM and each run metric, the failures and their reasons, the next fires.
    One self-contained file: it opens offline."""
    from gpuagent.commands.report import check_output, gather_report, save_page
    from gpuagent.core.errors import InvalidInput
    from gpuagent.views.htmlreport import report_page

    if output is None and out.is_terminal:
        raise InvalidInput("report: HTML is not for a terminal", "write it to a file: -o report.html (or redirect: > report.html)")
    if output is not None:
        check_output(output)  # before the work, not after it
    gathered = gather_report(_paths(), name, _since(since))
    page = report_page(gathered)
    if output is None:
        out.stream.write(page)
        return
    save_page(output, page)
    runs = sum(len(job.runs) for job in gathered.jobs)
    emit(out, Line(f"wrote {output}: {len(gathered.jobs)} job(s), {runs} run(s) since {since}"))


@app.command()
def export(
    name: Annotated[str | None, typer.Argument(help="The job (or --all).", autocompletion=_complete_job)] = None,
    to: Annotated[str | None, typer.Option("--to", help="The cluster's scheduler: slurm or kubernetes.", metavar="ENGINE")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Every job, one file each, into the -o directory.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (a directory with --all), whole or not at all (default: stdout).")
    ] = None,
    runtime: Annotated[
        str | None,
        typer.Option(
            "--runtime", help="Slurm: how the script runs the container: pyxis (srun --container-image; the default) or docker.", metavar="RUNTIME"
        ),
    ] = None,
    scrontab: Annotated[
        bool,
        typer.Option("--scrontab", help="Slurm: also write a scrontab entry beside the script (FILE.scrontab) that runs it on the job's schedule."),
    ] = False,
    with_secret: Annotated[
        bool,
        typer.Option(
            "--with-secret", help="Kubernetes: put the job's env file in a Secret before the CronJob (it holds the values: the file is 0600)."
        ),
    ] = False,
    check: Annotated[
        Path | None,
        typer.Option("--check", help="Say whether FILE, which export wrote, still matches its job (exit 1 if not, with the diff).", metavar="FILE"),
    ] = None,
) -> None:
    """Write a job as a Slurm batch script or a Kubernetes CronJob, made from its job file:
    the same job, the same bytes. Says on stderr each setting that maps only approximately,
    and how; refuses, writing nothing, a job with a setting that cannot map."""
    from gpuagent.commands.export import ExportRequest, check_export, export_jobs
    from gpuagent.core.errors import InvalidInput
    from gpuagent.views import text as render

    if check is not None:
        if name or to or all_jobs or output or runtime or scrontab or with_secret:
            raise InvalidInput("--check reads all it needs from the file", f"give it alone: gpuagent export --check {check}")
        checked = check_export(_paths(), check)
        render.export_check(out, checked)
        raise typer.Exit(1 if checked.diff else 0)
    if to is None:
        raise InvalidInput("--to is required", "e.g. gpuagent export nightly --to slurm, or --to kubernetes")
    request = ExportRequest(to, runtime=runtime, scrontab=scrontab, with_secret=with_secret)
    result = export_jobs(_paths(), name, all_jobs, request, output)
    render.export_notes(err, result)
    if output is None:
        [exported] = result.exports
        out.stream.write("".join(exported.files.values()))
        return
    render.export_written(out, result)


@app.command()
def logs(
    name: JobName,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run (an id from `gpuagent history`).")] = None,
    lines: Annotated[int | None, typer.Option("--lines", "-n", min=1, help="Only the last N lines.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only lines since WHEN: 30m, 6h, today, 2026-01-31 02:00.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines as they come (Ctrl-C stops).")] = False,
) -> None:
    """Show the journal of a job's runs (journalctl -u gpuagent@NAME)."""
    from gpuagent.commands.logs import job_logs

    for line in job_logs(_paths(), name, run_id, lines, _since(since), follow):
        out.stream.write(line)
        out.stream.flush()


@app.command()
def gpus(as_json: AsJson = False) -> None:
    """Every GPU: memory, utilisation, temperature, power, which job's (or notebook's) processes are on it, and what is reserved."""
    from gpuagent.commands.gpus import read_gpu_report

    _show("gpus", read_gpu_report(_paths()), as_json)


@app.command()
def doctor(as_json: AsJson = False) -> None:
    """Check this host can run jobs: systemd, docker and its GPU support, the NVIDIA driver,
    the units gpuagent ships, directories, job files. Exit 1 when something stops runs."""
    from gpuagent.commands.doctor import diagnose

    report = diagnose(_paths())
    _show("doctor", report, as_json)
    if report.blocking:
        raise typer.Exit(1)


@app.command()
def metrics() -> None:
    """Print the Prometheus metrics gpuagent writes for node_exporter's textfile collector."""
    from gpuagent.observe.metrics import exposition

    out.stream.write(exposition(_paths()))


notebook_app = typer.Typer(
    cls=_Commands,
    help="JupyterLab in a job's environment, on 127.0.0.1 behind a token: admitted and recorded like a run.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(notebook_app, name="notebook")

NotebookName = Annotated[str, typer.Argument(help="The notebook.")]


def notebook_start(name: str | None, like: str | None, idle_timeout: str, max_time: str, port: int | None, **settings) -> None:
    """Start JupyterLab (in its own systemd unit) and print its URL and the SSH tunnel to reach it."""
    from gpuagent.commands.notebook import start_notebook
    from gpuagent.core.quantities import parse_duration
    from gpuagent.sessions.spec import session_options
    from gpuagent.views import text as render

    started = start_notebook(
        _paths(),
        name,
        like,
        session_options(settings),
        idle_timeout=parse_duration(idle_timeout, option="--idle-timeout"),
        max_time=parse_duration(max_time, option="--max-time"),
        port=port,
    )
    render.notebook_started(out, started)


def _notebook_parameters() -> list[inspect.Parameter]:
    from gpuagent.core.quantities import format_duration
    from gpuagent.jobs.settings import BY_FIELD
    from gpuagent.sessions.jupyterlab import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_TIME
    from gpuagent.sessions.spec import SESSION_FIELDS, SESSION_HELP

    return [
        parameter("name", Annotated[str | None, typer.Argument(help="Notebook name (default: the --like job's, else lab).")]),
        parameter(
            "like",
            Annotated[
                str | None,
                typer.Option(
                    "--like",
                    help="Take this job's image, volumes, env, user and GPU needs (options given win).",
                    metavar="JOB",
                    autocompletion=_complete_job,
                ),
            ],
        ),
        parameter(
            "idle_timeout",
            Annotated[
                str,
                typer.Option(
                    "--idle-timeout",
                    help="Stop after this long with no kernel busy and no one using it (JupyterLab looks once a minute).",
                    metavar="DURATION",
                ),
            ],
            format_duration(DEFAULT_IDLE_TIMEOUT),
        ),
        parameter(
            "max_time",
            Annotated[str, typer.Option("--max-time", help="Stop after this long, busy or not.", metavar="DURATION")],
            format_duration(DEFAULT_MAX_TIME),
        ),
        parameter("port", Annotated[int | None, typer.Option("--port", help="The port on 127.0.0.1 (default: the first free one from 8888).")]),
        *(_setting_parameter(BY_FIELD[field], for_add=False, help=SESSION_HELP.get(field)) for field in SESSION_FIELDS),
    ]


def _session_help(field: str) -> str:
    from gpuagent.sessions.spec import SESSION_HELP

    return SESSION_HELP[field]


notebook_start.__signature__ = inspect.Signature(_notebook_parameters())
notebook_start.__annotations__ = {parameter.name: parameter.annotation for parameter in notebook_start.__signature__.parameters.values()}
notebook_app.command("start")(notebook_start)


@notebook_app.command("stop")
def notebook_stop(name: NotebookName) -> None:
    """Stop a notebook: its container is removed, its end recorded."""
    from gpuagent.commands.notebook import stop_notebook
    from gpuagent.views import text as render

    render.notebook_stopped(out, name, stop_notebook(_paths(), name))


@notebook_app.command("list")
def notebook_list(as_json: AsJson = False) -> None:
    """The notebooks running: URL, GPU, since when, until when."""
    from gpuagent.commands.notebook import list_notebooks

    _show("notebooks", list_notebooks(_paths()), as_json)


@notebook_app.command("serve", hidden=True)
def notebook_serve(name: NotebookName) -> None:
    """Serve a notebook in the foreground (what its unit runs)."""
    from gpuagent.sessions.serving import serve_notebook

    _, status = serve_notebook(_paths(), name, output=sys.stdout, log=_agent_log)
    raise typer.Exit(status)


@app.command()
def shell(
    name: JobName,
    command: Annotated[list[str] | None, typer.Argument(help="Run this instead of a shell (after --).")] = None,
    vram_wait: Annotated[str | None, typer.Option("--vram-wait", help=_session_help("vram_wait"), metavar="DURATION")] = None,
) -> None:
    """A shell (or one command) in a job's exact environment: its image, volumes, env, user, limits and GPU, admitted as a run's. Exit with its status."""
    from gpuagent.host.ttybridge import has_terminal, terminal_bridge
    from gpuagent.sessions.serving import open_shell

    terminal = terminal_bridge if has_terminal() else None
    run, status = open_shell(_paths(), name, tuple(command or ()), vram_wait, terminal, output=sys.stdout, log=_agent_log)
    if run.status not in ("succeeded", "failed"):
        _agent_log(f"shell {run.run_id}: {run.status} ({run.reason})")
    raise typer.Exit(status)


def _refresh_metrics() -> None:
    """After a change to the jobs: their metrics files say so (a removed job's goes)."""
    from gpuagent.observe.metrics import refresh

    refresh(_paths(), lambda line: emit(err, Line(f"warning: {line}")))


def _agent_log(line: str) -> None:
    """The agent's own lines, on stderr: the journal keeps them beside the container's."""
    print(f"gpuagent: {line}", file=sys.stderr, flush=True)


def main() -> None:
    app()
