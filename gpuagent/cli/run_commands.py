"""The commands that run a job: trigger, run, and what systemd runs around a run's
service (reap, on-failure).

Every timer's run starts `gpuagent run`: each command imports what only it uses in its
own body, so a run pays for none of the others' modules (about 20 ms).
"""

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from gpuagent.cli.app import agent_log, click, click_commands, command_set, err, out, paths
from gpuagent.cli.options import JobName
from gpuagent.views.screen import Line, emit

if TYPE_CHECKING:
    from gpuagent.runs.following import RunEnded, RunEvent
    from gpuagent.runs.record import RunRecord

runs = command_set()


@runs.command()
def trigger(
    name: JobName,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run: its output, then how it ended (Ctrl-C leaves it running).")] = False,
) -> None:
    """Run a job now, through systemd, so its output is in the journal like a timer run's."""
    from gpuagent.commands.trigger import follow_chain, follow_run, trigger_job
    from gpuagent.views import text

    where = paths()
    triggered = trigger_job(where, name)
    if not wait:
        emit(out, Line(f"started {triggered.unit}: follow it with `gpuagent logs {name} -f`, see it in `gpuagent history {name}`"))
        return
    try:
        ended = text.follow(out, follow_run(where, name, triggered), name)
        status = follow_chain(where, ended, _follow_follower)
    except KeyboardInterrupt:
        emit(err, Line(f"detached: the run goes on (`gpuagent logs {name} -f` to follow it again)"))
        raise typer.Exit(130) from None
    raise typer.Exit(status)


def _follow_follower(run: "RunRecord", events: Iterator["RunEvent"]) -> "RunEnded":
    from gpuagent.views import text

    emit(out, Line(f"run {run.run_id} of {run.job}, started by the success of run {run.upstream_run_id}:"))
    return text.follow(out, events, run.job)


@runs.command()
def run(name: Annotated[str, typer.Argument(help="The job.")]) -> None:
    """Run a job once in the foreground (what its timer does). Exit 0 if it succeeded or was skipped."""
    from gpuagent.queue.turns import QueueTurns
    from gpuagent.runs.runner import run_job

    where = paths()
    _, status = run_job(where, name, output=sys.stdout, log=agent_log, turns=QueueTurns(where))
    from gpuagent.queue.dispatch import dispatch_if_waiting  # here: not on the way to the container

    dispatch_if_waiting(where, agent_log)
    raise typer.Exit(status)


@runs.command()
def reap(name: Annotated[str, typer.Argument(help="The job, or shell/JOB: the containers of its shells whose command line is gone.")]) -> None:
    """Stop and remove containers of a job that outlived their agent (the service's ExecStopPost)."""
    from gpuagent.commands.reap import reap_after_stop

    for container in reap_after_stop(paths(), name, log=agent_log):
        emit(out, Line(f"reaped {container}"))


@runs.command("on-failure", hidden=True)
def on_failure(name: Annotated[str, typer.Argument(help="The job.")]) -> None:
    """Reap a failed run's leftovers and notify `lost` for a run that did not record its end (the service's OnFailure= handler)."""
    from gpuagent.commands.on_failure import handle_failure

    handled = handle_failure(paths(), name, log=agent_log)
    for container in handled.reaped:
        emit(out, Line(f"reaped {container}"))
    emit(
        out,
        Line(
            f"gpuagent@{name}.service failed ({handled.result or 'result unknown'}, invocation {handled.invocation_id or 'unknown'}): "
            f"{handled.announced} lost run(s) notified"
        ),
    )


def commands() -> dict[str, click.Command]:
    return click_commands(runs)
