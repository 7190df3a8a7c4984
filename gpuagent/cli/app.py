"""The command line: the Typer app, its one error handler, and the table of commands.

This is the only place that prints errors and picks exit codes: 0 success, 1 failure,
2 bad usage (an option, argument or job file to fix), 130 interrupted.

Start-up is paid here, once: `gpuagent --help` lists the commands from COMMANDS without
importing any of them, and a command's module (cli/*_commands.py, which imports what its
commands need at its top) is imported only when that command runs or shows its own help.
Heavy modules (pynvml, Rich, prometheus_client) stay behind the modules that use them.
"""

import contextlib
import functools
import gc
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from gpuagent import __version__
from gpuagent.core.errors import GpuAgentError, InvalidInput
from gpuagent.core.paths import Paths, resolve_paths
from gpuagent.views.screen import Screen

# The Click that Typer parses with, whose types the cli/ modules name: Typer 0.28 carries a
# copy of its own (typer._click), whose classes and errors are not the installed click's
# (and importing that one too would cost every command ~5 ms); older Typers use click.
click = sys.modules[typer.BadParameter.__module__.rpartition(".")[0]]


@dataclass(frozen=True)
class Entry:
    module: str  # the module of gpuagent/cli/ that defines the command
    # Its line in `gpuagent --help` (how its own help begins: tests/unit/test_cli_help.py
    # checks they agree); None: hidden, systemd runs it.
    summary: str | None


# Every command, in the order `gpuagent --help` lists them.
COMMANDS = {
    "add": Entry("job_commands", "Add a scheduled job: gpuagent add NAME --at 02:00 --image IMG [OPTIONS] -- COMMAND [ARGS...]"),
    "list": Entry("job_commands", "List the jobs, their schedules and timers."),
    "status": Entry("view_commands", "Every job at a glance: schedule, timer, last run, success rate, and what needs a look."),
    "show": Entry("job_commands", "Show a job: its settings, its timer and its next 3 fire times."),
    "remove": Entry("job_commands", "Remove a job's timer and file."),
    "sync": Entry(
        "job_commands",
        "Make every job's timer what its job file says: write changed and missing timers, each switched on or off as its file says, remove those whose job file is gone, write the units gpuagent ships where missing.",
    ),
    "enable": Entry("job_commands", "Let a job run again: its job file says so, and its timer is switched on."),
    "disable": Entry("job_commands", "Pause a job: its job file says so (sync and a reinstall keep it), and its timer is switched off."),
    "trigger": Entry("run_commands", "Run a job now, through systemd, so its output is in the journal like a timer run's."),
    "run": Entry("run_commands", "Run a job once in the foreground (what its timer does)."),
    "reap": Entry("run_commands", "Stop and remove containers of a job that outlived their agent (the service's ExecStopPost)."),
    "on-failure": Entry("run_commands", None),
    "submit": Entry(
        "queue_commands", "Queue a run: it starts when its turn comes and a GPU fits it (gpuagent submit --image IMG [OPTIONS] -- COMMAND [ARGS...])."
    ),
    "queue": Entry(
        "queue_commands",
        "The queue: each run waiting (in the order they start) or running, what it needs, how long it has waited and why it waits.",
    ),
    "cancel": Entry("queue_commands", "Take runs out of the queue; a running one is stopped (its stop grace) and recorded stopped."),
    "dispatch": Entry("queue_commands", None),
    "run-queued": Entry("queue_commands", None),
    "history": Entry("history_commands", "Show past runs, newest first; or one run in full (--run); or one metric (--metric)."),
    "report": Entry(
        "report_commands",
        "Write an HTML report of the jobs' runs: success rate, runs by status, charts of duration, peak VRAM and each run metric, the failures and their reasons, the next fires.",
    ),
    "export": Entry(
        "export_commands",
        "Write a job as a Slurm batch script or a Kubernetes CronJob, made from its job file: the same job, the same bytes.",
    ),
    "logs": Entry("view_commands", "Show the journal of a job's runs (journalctl -u gpuagent@NAME)."),
    "gpus": Entry(
        "host_commands",
        "Every GPU: memory, utilisation, temperature, power, which job's (or notebook's) processes are on it, and what is reserved.",
    ),
    "top": Entry(
        "top_commands",
        "A live view that refreshes: each GPU (memory, utilisation, who holds it, what is reserved), the runs running, the head of the queue and why each waits, the last ends.",
    ),
    "doctor": Entry(
        "host_commands",
        "Check this host can run jobs: systemd, docker and its GPU support, the NVIDIA driver, the units gpuagent ships, directories, job files.",
    ),
    "metrics": Entry("host_commands", "Print the Prometheus metrics gpuagent writes for node_exporter's textfile collector."),
    "boot": Entry("host_commands", None),
    "shell": Entry(
        "session_commands",
        "A shell (or one command) in a job's exact environment: its image, volumes, env, user, limits and GPU, admitted as a run's.",
    ),
    "notebook": Entry(
        "session_commands",
        "JupyterLab in a job's environment, on 127.0.0.1 behind a token: admitted and recorded like a run.",
    ),
}


@functools.cache
def module_commands(module: str) -> dict[str, click.Command]:
    """The commands one module of gpuagent/cli/ defines, imported on first use."""
    return importlib.import_module(f"gpuagent.cli.{module}").commands()


class _Commands(typer.core.TyperGroup):
    """The commands of COMMANDS, each loaded when it is used, and the one error handler:
    every command's GpuAgentError is shown as `error: ...` and `hint: ...` on stderr, and
    the process exits with its code (a traceback with --debug)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        return module_commands(entry.module)[name] if entry else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's listing, from the summaries: no command module is imported for it."""
        listed = {name: entry.summary for name, entry in COMMANDS.items() if entry.summary}
        limit = formatter.width - 6 - max(map(len, listed))
        with formatter.section("Commands"):
            formatter.write_dl([(name, typer.core.TyperCommand(name, help=summary).get_short_help_str(limit)) for name, summary in listed.items()])

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with _usage_errors_in_one_line(ctx):
            return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _usage_errors_in_one_line(ctx):
                return super().invoke(ctx)
        except GpuAgentError as error:
            if settings.debug:
                raise
            show_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None


@contextlib.contextmanager
def _usage_errors_in_one_line(ctx: click.Context) -> Iterator[None]:
    """Click's own usage errors (a value of the wrong type, an unknown option or command)
    shown as gpuagent's: one `error:` line and a hint, exit 2, instead of Click's three."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # `gpuagent` alone, or a group alone: its help, as Click shows it
    except click.exceptions.UsageError as error:
        # Click leaves some errors without their context: the command being parsed then is
        # the one the group has just picked.
        where = error.ctx.command_path if error.ctx else " ".join(filter(None, [ctx.command_path, ctx.invoked_subcommand]))
        show_error(InvalidInput(error.format_message(), f"{where} --help"))
        raise typer.Exit(InvalidInput.exit_code) from None


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


def command_set(**options: Any) -> typer.Typer:
    """The Typer a module of gpuagent/cli/ declares its commands on: help as `app`'s."""
    return typer.Typer(rich_markup_mode=None, add_completion=False, **options)


def click_commands(commands: typer.Typer) -> dict[str, click.Command]:
    return typer.main.get_group(commands).commands


class Settings:
    user_mode: bool | None = None
    debug: bool = False


settings = Settings()


def paths() -> Paths:
    return resolve_paths(settings.user_mode)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gpuagent {__version__}")
        raise typer.Exit()


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


def show(result: Any, text_view: Callable[[Screen, Any], None], json_view: Callable[[Any], dict], as_json: bool) -> None:
    """Print `result` through its text view, or with --json through its JSON view."""
    if as_json:
        from gpuagent.views.jsondoc import dumps  # here, not for --help: the command has it loaded

        out.stream.write(dumps(json_view(result)))
    else:
        text_view(out, result)


def show_error(error: GpuAgentError) -> None:
    from gpuagent.views.text import error as as_text  # here, not for --help: views cost ~25 ms

    as_text(err, error)


def agent_log(line: str) -> None:
    """The agent's own lines, on stderr: the journal keeps them beside the container's."""
    print(f"gpuagent: {line}", file=sys.stderr, flush=True)


# How long the collector stays off while a command starts (see main).
START_UP_SECONDS = 2.0


def main() -> None:
    # Start-up loads modules whose objects live as long as the process: the collector's
    # passes over them while they load find nothing (~17 ms of each command). It is off
    # while a command starts, and on again for the commands that keep running (a run, top).
    gc.disable()
    collecting = threading.Timer(START_UP_SECONDS, gc.enable)
    collecting.daemon = True
    collecting.start()
    try:
        app()
    finally:
        # What is left is freed by the exit: freezing it spares the interpreter's last
        # collection a walk over every object (~35 ms of each command, bench/run_overhead.py).
        gc.freeze()
