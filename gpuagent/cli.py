"""The command line: parse, call a command, render what it returns.

This is the only place that prints errors and picks exit codes: 0 success, 1 failure,
2 bad usage (an option, argument or job file to fix), 130 interrupted. Heavy modules
(docker, pynvml, and Rich, which only a terminal needs) are imported inside the commands
that need them, so `gpuagent --help` stays fast.
"""

import sys
from typing import Annotated, Any

import typer

from gpuagent.errors import GpuAgentError
from gpuagent.views.terminal import Line, Screen, emit


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
    from gpuagent.paths import resolve_paths

    return resolve_paths(settings.user_mode)


def _print_version(value: bool) -> None:
    if value:
        from gpuagent import __version__

        typer.echo(f"gpuagent {__version__}")
        raise typer.Exit()


def _complete_job(ctx: typer.Context, incomplete: str) -> list[str]:
    """Job names for shell completion, in the mode (--user/--system) on the line so far."""
    from gpuagent.host.jobfiles import job_names
    from gpuagent.paths import resolve_paths

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

    from gpuagent.since import parse_since

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


@app.command(no_args_is_help=True)
def add(
    name: Annotated[str, typer.Argument(help="Job name: a-z, 0-9, '-' and '_', up to 63 characters.")],
    command: Annotated[list[str] | None, typer.Argument(help="The command to run in the container, after --.")] = None,
    image: Annotated[str, typer.Option("--image", help="Container image, e.g. pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime.")] = ...,
    at: Annotated[
        str | None, typer.Option("--at", help="Daily at a time, e.g. 02:00 or 'Mon..Fri 02:00'.", rich_help_panel="Schedule (one of)")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Any systemd calendar expression, e.g. 'Sun *-*-* 03:00'.", rich_help_panel="Schedule (one of)")
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="An interval from the last start, e.g. 6h.", rich_help_panel="Schedule (one of)")
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="A 5-field cron expression, e.g. '0 2 * * 1-5'.", rich_help_panel="Schedule (one of)")
    ] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", help="How many GPUs the run needs.", rich_help_panel="GPU")] = None,
    gpu: Annotated[list[str] | None, typer.Option("--gpu", help="Allowed GPU, by index or UUID (repeatable).", rich_help_panel="GPU")] = None,
    min_free_vram: Annotated[
        str | None, typer.Option("--min-free-vram", help="Free GPU memory each chosen GPU must have, e.g. 20GiB.", rich_help_panel="GPU")
    ] = None,
    vram_policy: Annotated[
        str, typer.Option("--vram-policy", help="When no GPU fits: wait (until --vram-wait), skip (exit 0) or fail (exit 1).", rich_help_panel="GPU")
    ] = "wait",
    vram_wait: Annotated[
        str | None, typer.Option("--vram-wait", help="How long --vram-policy wait waits, e.g. 30m (the default).", rich_help_panel="GPU")
    ] = None,
    max_gpu_util: Annotated[
        int | None, typer.Option("--max-gpu-util", help="Refuse GPUs busier than this percentage.", rich_help_panel="GPU")
    ] = None,
    exclusive: Annotated[
        bool, typer.Option("--exclusive", help="Refuse GPUs running processes gpuagent did not start.", rich_help_panel="GPU")
    ] = False,
    memory: Annotated[str | None, typer.Option("--memory", help="Host memory limit, e.g. 32g (no swap on top).", rich_help_panel="Limits")] = None,
    cpus: Annotated[float | None, typer.Option("--cpus", help="CPU limit in cores, e.g. 8.", rich_help_panel="Limits")] = None,
    shm_size: Annotated[
        str | None, typer.Option("--shm-size", help="Size of /dev/shm, e.g. 8g (PyTorch DataLoader workers need it).", rich_help_panel="Limits")
    ] = None,
    timeout: Annotated[str | None, typer.Option("--timeout", help="Stop the run after this long, e.g. 6h.", rich_help_panel="Limits")] = None,
    stop_grace: Annotated[
        str | None,
        typer.Option("--stop-grace", help="Between SIGTERM and SIGKILL when a run is stopped (default 10s, at most 240s).", rich_help_panel="Limits"),
    ] = None,
    retries: Annotated[
        int, typer.Option("--retries", help="Run again after failed, oom-killed or cuda-oom, up to N times.", rich_help_panel="Limits")
    ] = 0,
    retry_delay: Annotated[str | None, typer.Option("--retry-delay", help="Pause before a retry (default 1m).", rich_help_panel="Limits")] = None,
    volume: Annotated[list[str] | None, typer.Option("-v", "--volume", help="HOST:CONTAINER[:ro] (repeatable).", rich_help_panel="Container")] = None,
    env: Annotated[list[str] | None, typer.Option("-e", "--env", help="KEY=VALUE (repeatable).", rich_help_panel="Container")] = None,
    env_file: Annotated[
        str | None,
        typer.Option("--env-file", help="File of KEY=VALUE lines, read at each run (keep secrets here, mode 0600).", rich_help_panel="Container"),
    ] = None,
    workdir: Annotated[str | None, typer.Option("--workdir", help="Working directory in the container.", rich_help_panel="Container")] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="UID[:GID] to run as (default: the image's user, or nobody if that is root).", rich_help_panel="Container"),
    ] = None,
    persistent: Annotated[
        bool, typer.Option("--persistent/--no-persistent", help="Catch up a fire missed while the host was off.", rich_help_panel="Timer")
    ] = True,
    random_delay: Annotated[
        str | None, typer.Option("--random-delay", help="Spread the start by up to this long, e.g. 10m.", rich_help_panel="Timer")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Write the job but leave its timer off.", rich_help_panel="Timer")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a job of the same name.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the files it would write; change nothing.")] = False,
) -> None:
    """Add a scheduled job: gpuagent add NAME --at 02:00 --image IMG [OPTIONS] -- COMMAND [ARGS...]"""
    from gpuagent.commands.add import add_job
    from gpuagent.model.job import JobOptions
    from gpuagent.model.schedule import parse_schedule
    from gpuagent.views import text as render

    schedule = parse_schedule(at=at, on=on, every=every, cron=cron)
    options = JobOptions(
        image=image,
        command=list(command or []),
        gpus=gpus,
        gpu_ids=list(gpu or []),
        min_free_vram=min_free_vram,
        memory=memory,
        cpus=cpus,
        shm_size=shm_size,
        volumes=list(volume or []),
        env=list(env or []),
        env_file=env_file,
        workdir=workdir,
        user=user,
        timeout=timeout,
        persistent=persistent,
        random_delay=random_delay,
        vram_policy=vram_policy,
        vram_wait=vram_wait,
        max_gpu_util=max_gpu_util,
        exclusive=exclusive,
        stop_grace=stop_grace,
        retries=retries,
        retry_delay=retry_delay,
    )
    result = add_job(_paths(), name, schedule, options, replace=replace, enabled=not disabled, dry_run=dry_run)
    render.add_result(out, result)


@app.command("list")
def list_command(as_json: AsJson = False) -> None:
    """List the jobs, their schedules and timers."""
    from gpuagent.commands.list_jobs import list_jobs

    _show("job_list", list_jobs(_paths()), as_json)


@app.command()
def status(as_json: AsJson = False) -> None:
    """Every job at a glance: schedule, timer, last run, success rate, and what needs a look."""
    from gpuagent.commands.status import job_status

    _show("status", job_status(_paths()), as_json)


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


@app.command()
def sync(dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what it would change; change nothing.")] = False) -> None:
    """Make every job's timer what its job file says: write changed and missing timers (a new
    job's is enabled, others keep their state), remove those whose job file is gone, write
    the template unit if it is missing. Exit 2 when a job file does not load."""
    from gpuagent.commands.sync import sync_timers
    from gpuagent.views import text as render

    result = sync_timers(_paths(), dry_run=dry_run)
    render.sync_result(out, result)
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


@app.command()
def disable(name: JobName) -> None:
    """Switch a job's timer off (the job and its history stay)."""
    from gpuagent.commands.toggle import set_enabled

    set_enabled(_paths(), name, False)
    emit(out, Line(f"job {name}: timer disabled"))


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
    except KeyboardInterrupt:
        emit(err, Line(f"detached: the run goes on (`gpuagent logs {name} -f` to follow it again)"))
        raise typer.Exit(130) from None
    raise typer.Exit(1 if ended.exit_status is None else ended.exit_status)


@app.command()
def run(name: Annotated[str, typer.Argument(help="The job.")]) -> None:
    """Run a job once in the foreground (what its timer does). Exit 0 if it succeeded or was skipped."""
    from gpuagent.run.runner import run_job

    _, status = run_job(_paths(), name, output=sys.stdout, log=_agent_log)
    raise typer.Exit(status)


@app.command()
def reap(name: Annotated[str, typer.Argument(help="The job.")]) -> None:
    """Stop and remove containers of a job that outlived their agent (the service's ExecStopPost)."""
    from gpuagent.commands.reap import reap_job

    for container in reap_job(_paths(), name, log=_agent_log):
        emit(out, Line(f"reaped {container}"))


@app.command()
def history(
    name: Annotated[str | None, typer.Argument(help="Only this job's runs.", autocompletion=_complete_job)] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only runs started since WHEN: 6h, 2d, today, 2026-01-31 02:00.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs that ended so: succeeded, failed, oom-killed, ...")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs to show.")] = 20,
    run_id: Annotated[str | None, typer.Option("--run", help="Show this one run in full, with its log tail.")] = None,
    as_json: AsJson = False,
) -> None:
    """Show past runs, newest first; or one run in full (--run)."""
    from gpuagent.commands.common import get_run
    from gpuagent.commands.history import list_runs

    if run_id is not None:
        _show("run_detail", get_run(_paths(), run_id), as_json)
        return
    _show("runs", list_runs(_paths(), name, limit, status, _since(since)), as_json)


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
    """Every GPU: memory, utilisation, temperature, power, and which job's processes are on it."""
    from gpuagent.commands.gpus import read_gpu_report

    _show("gpus", read_gpu_report(), as_json)


@app.command()
def doctor(as_json: AsJson = False) -> None:
    """Check this host can run jobs: systemd, docker and its GPU support, the NVIDIA driver,
    the template unit, directories, job files. Exit 1 when something stops runs."""
    from gpuagent.commands.doctor import diagnose

    report = diagnose(_paths())
    _show("doctor", report, as_json)
    if report.blocking:
        raise typer.Exit(1)


def _agent_log(line: str) -> None:
    """The agent's own lines, on stderr: the journal keeps them beside the container's."""
    print(f"gpuagent: {line}", file=sys.stderr, flush=True)


def main() -> None:
    app()
