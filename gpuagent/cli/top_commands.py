"""gpuagent top: the live view of this host's GPUs, runs and queue."""

import sys
from typing import Annotated

import typer

from gpuagent.cli.app import click, click_commands, command_set, out, paths
from gpuagent.commands.top import gpu_reads_kept_open, read_frame
from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration, parse_duration
from gpuagent.views.topview import live, print_frame

top_set = command_set()

# Longer than this, a view that refreshes is not worth keeping open.
MAX_INTERVAL = 3600


@top_set.command("top")
def top_command(
    interval: Annotated[str, typer.Option("--interval", help="Redraw every DURATION: 2, 5s, 1m.", metavar="DURATION")] = "2s",
) -> None:
    """A live view that refreshes: each GPU (memory, utilisation, who holds it, what is reserved), the runs running, the head of the queue and why each waits, the last ends.

    q (or Ctrl-C) quits. Piped, it prints one frame as plain text and exits."""
    seconds = parse_duration(interval, option="--interval")
    if not 1 <= seconds <= MAX_INTERVAL:
        raise InvalidInput(f"--interval: {interval!r} is not between 1s and {format_duration(MAX_INTERVAL)}", "e.g. --interval 5s")
    where = paths()
    with gpu_reads_kept_open():
        if not out.is_terminal:
            print_frame(out, read_frame(where))
            return
        live(out, sys.stdin, lambda: read_frame(where), seconds)


def commands() -> dict[str, click.Command]:
    return click_commands(top_set)
