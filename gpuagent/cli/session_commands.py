"""The sessions: a shell in a job's environment, and notebooks (start, stop, list, and
the hidden serve their unit runs)."""

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from gpuagent.cli.app import COMMANDS, agent_log, click, click_commands, command_set, out, paths, show
from gpuagent.cli.options import AsJson, JobName, argument, complete_job, option, setting_options
from gpuagent.commands.notebook import list_notebooks, start_notebook, stop_notebook
from gpuagent.core.quantities import format_duration
from gpuagent.core.values import parse_bounded_duration, visible
from gpuagent.host.ttybridge import has_terminal, terminal_bridge
from gpuagent.jobs.job import given_options
from gpuagent.jobs.settings import BY_FIELD
from gpuagent.sessions.jupyterlab import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_TIME, check_port
from gpuagent.sessions.serving import open_shell, serve_notebook
from gpuagent.sessions.spec import SESSION_FIELDS, SESSION_HELP
from gpuagent.views import jsondoc, text

sessions = command_set()
notebooks = command_set()

# A notebook holds its GPU until it ends: a month of it is a job's work, not a session's
# (and a bound keeps every end a moment the agent can wait for).
MAX_NOTEBOOK_TIME = 31 * 86400
_LONGER = "a notebook holds its GPU while it lives: schedule longer work as a job (gpuagent add)"

NotebookName = Annotated[str, typer.Argument(help="The notebook.")]


@sessions.command()
def shell(
    name: JobName,
    command: Annotated[list[str] | None, typer.Argument(help="Run this instead of a shell (after --).")] = None,
    vram_wait: Annotated[str | None, typer.Option("--vram-wait", help=SESSION_HELP["vram_wait"], metavar="DURATION")] = None,
) -> None:
    """A shell (or one command) in a job's exact environment: its image, volumes, env, user, limits and GPU, admitted as a run's. Exit with its status."""
    if vram_wait is not None:
        BY_FIELD["vram_wait"].read(vram_wait, "--vram-wait")  # its bounds before the job is looked up
    terminal = terminal_bridge if has_terminal() else None
    where = paths()
    run, status = open_shell(where, name, tuple(command or ()), vram_wait, terminal, output=sys.stdout, log=agent_log)
    _dispatch(where)
    if run.status not in ("succeeded", "failed"):
        agent_log(f"shell {run.run_id}: {run.status} ({visible(run.reason or '-')})")
    raise typer.Exit(status)


def notebook_start(name: str | None, like: str | None, idle_timeout: str, max_time: str, port: int | None, **given: Any) -> None:
    """Start JupyterLab (in its own systemd unit) and print its URL and the SSH tunnel to reach it."""
    started = start_notebook(
        paths(),
        name,
        like,
        given_options(given),
        idle_timeout=parse_bounded_duration(idle_timeout, "--idle-timeout", MAX_NOTEBOOK_TIME, _LONGER),
        max_time=parse_bounded_duration(max_time, "--max-time", MAX_NOTEBOOK_TIME, _LONGER),
        port=None if port is None else check_port(port),
    )
    text.notebook_started(out, started)


# `notebook start`'s parameters: the notebook's own, then one option per session setting
# of the settings table (sessions/spec.py), each over the --like job's value.
start_command = TyperCommand(
    name="start",
    callback=notebook_start,
    help=notebook_start.__doc__,
    rich_markup_mode=None,  # as `app`'s: Click's plain help
    params=[
        argument("name", "Notebook name (default: the --like job's, else lab)."),
        option(
            "--like",
            help="Take this job's image, volumes, env, user and GPU needs (options given win).",
            metavar="JOB",
            autocompletion=complete_job,
        ),
        option(
            "--idle-timeout",
            help="Stop after this long with no kernel busy and no one using it (JupyterLab looks once a minute).",
            default=format_duration(DEFAULT_IDLE_TIMEOUT),
            metavar="DURATION",
        ),
        option("--max-time", help="Stop after this long, busy or not.", default=format_duration(DEFAULT_MAX_TIME), metavar="DURATION"),
        option("--port", help="The port on 127.0.0.1 (default: the first free one from 8888).", type=int),
        *setting_options((BY_FIELD[field] for field in SESSION_FIELDS), for_add=False, help=SESSION_HELP),
    ],
)


@notebooks.command("stop")
def notebook_stop(name: NotebookName) -> None:
    """Stop a notebook: its container is removed, its end recorded."""
    text.notebook_stopped(out, name, stop_notebook(paths(), name))


@notebooks.command("list")
def notebook_list(as_json: AsJson = False) -> None:
    """The notebooks running: URL, GPU, since when, until when."""
    show(list_notebooks(paths()), text.notebooks, jsondoc.notebooks, as_json)


@notebooks.command("serve", hidden=True)
def notebook_serve(name: NotebookName) -> None:
    """Serve a notebook in the foreground (what its unit runs)."""
    where = paths()
    _, status = serve_notebook(where, name, output=sys.stdout, log=agent_log)
    _dispatch(where)
    raise typer.Exit(status)


def _dispatch(where) -> None:
    """A session's end frees its GPU for the runs that wait (the queue loads only here:
    `notebook list` and the others need none of it)."""
    from gpuagent.queue.dispatch import dispatch_if_waiting

    dispatch_if_waiting(where, agent_log)


def commands() -> dict[str, click.Command]:
    notebook = TyperGroup(
        name="notebook",
        commands=[start_command, *click_commands(notebooks).values()],
        help=COMMANDS["notebook"].summary,
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    return {"notebook": notebook, **click_commands(sessions)}
