"""The queue's commands: submit, queue, cancel, and what its units run (dispatch, run-queued)."""

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from gpuagent.cli.app import agent_log, click, click_commands, command_set, err, out, paths, show
from gpuagent.cli.options import AsJson, argument, complete_job, notify_options, option, setting_options
from gpuagent.host.systemd import TIMER_TRIGGER
from gpuagent.jobs.job import given_options
from gpuagent.jobs.settings import BY_FIELD
from gpuagent.queue.entry import SUBMIT_FIELDS
from gpuagent.queue.sweeps import ENV_PREFIX, MAX_SWEEP_RUNS
from gpuagent.views import jsondoc, text
from gpuagent.views.screen import Line, emit

queue_set = command_set()

SWEEP_HELP = (
    f"Queue one run per combination of values (repeatable; at most {MAX_SWEEP_RUNS} runs): --sweep lr=1e-3,3e-4 --sweep batch=32,64. "
    f"Each run gets its values as {ENV_PREFIX}NAME in its environment; the runs share a group id (`gpuagent history --group`)."
)


def submit_command_callback(
    command: list[str] | None,
    name: str | None,
    like: str | None,
    dedupe: str | None,
    sweep: list[str] | None,
    wait: bool,
    notify: list[str] | None,
    notify_on: str | None,
    ping: str | None,
    **given: Any,
) -> None:
    """Queue a run: it starts when its turn comes and a GPU fits it (gpuagent submit --image IMG [OPTIONS] -- COMMAND [ARGS...])."""
    from gpuagent.commands.submit import follow_queued, submit  # here: `queue`, which waits on no one, need not load them

    where = paths()
    submitted = submit(
        where, name, like, given_options(given), command, dedupe=dedupe, sweeps=sweep or (), notify=notify or (), notify_on=notify_on, ping=ping
    )
    text.submitted(out, submitted)
    if not wait:
        return
    [entry, *others] = submitted.entries
    if others:
        emit(err, Line(f"--wait follows the first of the {len(submitted.entries)} runs; `gpuagent queue` shows the others"))
    try:
        ended = text.follow(out, follow_queued(where, entry), entry.subject)
    except KeyboardInterrupt:
        emit(err, Line(f"detached: run {entry.id} stays queued (`gpuagent queue` shows it, `gpuagent cancel {entry.id}` takes it out)"))
        raise typer.Exit(130) from None
    from gpuagent.runs.following import exit_status

    raise typer.Exit(exit_status(ended))


submit_command = TyperCommand(
    name="submit",
    callback=submit_command_callback,
    help=submit_command_callback.__doc__,
    no_args_is_help=True,
    rich_markup_mode=None,  # as `app`'s: Click's plain help
    params=[
        argument("command", BY_FIELD["command"].help.replace("`add`'s", "`submit`'s"), many=True),
        option("--name", help="Its name: history calls its runs queue/NAME (default: the --like job's, else run).", metavar="NAME"),
        option(
            "--like",
            help="Take this job's settings: image, command, volumes, env, limits, GPU needs, priority (options given win; -e and -v add).",
            metavar="JOB",
            autocompletion=complete_job,
        ),
        option("--dedupe", help="Refuse the submit while a queued or running run holds this key (say which).", metavar="KEY"),
        option("--sweep", help=SWEEP_HELP, type=list[str], metavar="NAME=V1,V2"),
        option("--wait", help="Follow the run: its place in the queue, its output, how it ended; exit as it did.", type=bool, default=False),
        *setting_options((BY_FIELD[field] for field in SUBMIT_FIELDS), for_add=False),
        *notify_options(kept="they are for every run named queue/NAME; a submit without them keeps those given before"),
    ],
)


@queue_set.command("queue")
def queue_command(as_json: AsJson = False) -> None:
    """The queue: each run waiting (in the order they start) or running, what it needs, how long it has waited and why it waits."""
    from gpuagent.queue.standing import queue_view  # here: submit, which returns at once, need not load the planner

    show(queue_view(paths()), text.queue, jsondoc.queue, as_json)


@queue_set.command("cancel")
def cancel_command(
    run_ids: Annotated[list[str] | None, typer.Argument(help="The runs (ids from `gpuagent queue`).", show_default=False)] = None,
    group: Annotated[str | None, typer.Option("--group", help="Every run of this sweep.", metavar="GROUP")] = None,
) -> None:
    """Take runs out of the queue; a running one is stopped (its stop grace) and recorded stopped."""
    from gpuagent.commands.cancel import cancel

    text.cancelled(out, cancel(paths(), list(run_ids or ()), group))


@queue_set.command("dispatch", hidden=True)
def dispatch_command(
    ended: Annotated[str | None, typer.Option("--ended", help="The queued run whose unit just stopped.", metavar="RUN_ID")] = None,
    trigger: Annotated[str | None, typer.Option("--trigger", help="What started it: timer, or a submit's first run id.", metavar="WHAT")] = None,
) -> None:
    """Start the queued runs whose turn has come and whose GPUs fit (what the queue's units run)."""
    from gpuagent.queue.dispatch import dispatch

    done = dispatch(paths(), agent_log, ended=ended, submitted=None if trigger in (None, TIMER_TRIGGER) else trigger)
    agent_log(f"dispatch: {len(done.started)} started, {done.waiting} waiting" + (f", {len(done.lost)} lost" if done.lost else ""))


@queue_set.command("run-queued", hidden=True)
def run_queued_command(run_id: Annotated[str, typer.Argument(help="The queued run.")]) -> None:
    """Run a queued run in the foreground (what its unit runs)."""
    from gpuagent.queue.agent import run_queued

    _, status = run_queued(paths(), run_id, output=sys.stdout, log=agent_log)
    raise typer.Exit(status)


def commands() -> dict[str, click.Command]:
    return {"submit": submit_command, **click_commands(queue_set)}
