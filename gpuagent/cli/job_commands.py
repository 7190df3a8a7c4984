"""The commands that write and read jobs: add, list, show, remove, sync, enable, disable."""

from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from gpuagent.cli.app import click, click_commands, command_set, err, out, paths, show
from gpuagent.cli.options import AsJson, JobName, argument, notify_options, option, setting_options
from gpuagent.commands.add import add_job
from gpuagent.commands.remove import remove_job
from gpuagent.commands.show import show_job
from gpuagent.commands.sync import sync_timers
from gpuagent.commands.toggle import Toggled, set_enabled
from gpuagent.jobs.inventory import job_summaries
from gpuagent.jobs.schedule import KIND_HELP, ZONE_HELP, ZONE_KEY, parse_schedule
from gpuagent.jobs.settings import BY_FIELD, SETTINGS
from gpuagent.observe.metrics import refresh
from gpuagent.views import jsondoc, text
from gpuagent.views.screen import Line, emit

jobs = command_set()


def add(
    name: str,
    command: list[str] | None,
    replace: bool,
    dry_run: bool,
    notify: list[str] | None,
    notify_on: str | None,
    ping: str | None,
    **given: Any,
) -> None:
    """Add a scheduled job: gpuagent add NAME --at 02:00 --image IMG [OPTIONS] -- COMMAND [ARGS...]"""
    schedule = parse_schedule(**{key: given.pop(key) for key in (*KIND_HELP, ZONE_KEY)})
    notifications = dict(notify=notify or (), notify_on=notify_on, ping=ping)
    options = {**given, "command": command or []}
    result = add_job(paths(), name, schedule, options, replace=replace, dry_run=dry_run, **notifications)
    text.add_result(out, result)
    if not dry_run:
        _refresh_metrics()


# `add`'s parameters: the job's name and command, the schedule, one option per row of the
# settings table, and what `add` itself does.
add_command = TyperCommand(
    name="add",
    callback=add,
    help=add.__doc__,
    no_args_is_help=True,
    rich_markup_mode=None,  # as `app`'s: Click's plain help
    params=[
        argument("name", "Job name: a-z, 0-9, '-' and '_', up to 63 characters.", required=True),
        argument("command", BY_FIELD["command"].help, many=True),
        *(option(f"--{kind}", help=words, metavar="SPEC") for kind, words in KIND_HELP.items()),
        option(f"--{ZONE_KEY}", help=ZONE_HELP, metavar="ZONE"),
        *setting_options((setting for setting in SETTINGS if setting.field != "enabled"), for_add=True),
        # None when neither is given: a new job is enabled, a replaced one stays as it was
        *setting_options([BY_FIELD["enabled"]], for_add=False),
        option(
            "--replace",
            help="Overwrite a job of the same name with what this command says (a setting left out is back to its default); "
            "it stays enabled or disabled unless --enabled/--disabled is given, and its notify file keeps what --notify, --notify-on and --ping leave out.",
            type=bool,
            default=False,
        ),
        option("--dry-run", help="Print the files it would write; change nothing.", type=bool, default=False),
        # Not job file settings: they go to the job's notify file (0600: URLs hold tokens).
        *notify_options(kept="--replace keeps the job's URLs, their events and its ping unless --notify, --notify-on or --ping replace them"),
    ],
)


@jobs.command("list")
def list_jobs(as_json: AsJson = False) -> None:
    """List the jobs, their schedules and timers."""
    show(job_summaries(paths()), text.job_list, jsondoc.job_list, as_json)


@jobs.command("show")
def show_command(name: JobName, as_json: AsJson = False) -> None:
    """Show a job: its settings, its timer and its next 3 fire times."""
    show(show_job(paths(), name), text.job_detail, jsondoc.job_detail, as_json)


@jobs.command()
def remove(name: JobName) -> None:
    """Remove a job's timer and file. Its history is kept."""
    for path in remove_job(paths(), name):
        emit(out, Line(f"removed {path}"))
    _refresh_metrics()


@jobs.command()
def sync(dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what it would change; change nothing.")] = False) -> None:
    """Make every job's timer what its job file says: write changed and missing timers, each
    switched on or off as its file says, remove those whose job file is gone, write
    the units gpuagent ships where missing. Exit 2 when a job file does not load."""
    result = sync_timers(paths(), dry_run=dry_run)
    text.sync_result(out, result)
    if not dry_run:
        _refresh_metrics()
    for problem in result.broken.values():
        text.error(err, problem)
    if result.broken:
        raise typer.Exit(2)


@jobs.command()
def enable(name: JobName) -> None:
    """Let a job run again: its job file says so, and its timer is switched on. A job that runs
    only --after another is started again by its upstream's successes."""
    _toggled(set_enabled(paths(), name, True))


@jobs.command()
def disable(name: JobName) -> None:
    """Pause a job: its job file says so (sync and a reinstall keep it), and its timer is switched
    off. Its upstream's successes do not start it either. The job and its history stay;
    `trigger` still runs it by hand."""
    _toggled(set_enabled(paths(), name, False))


def _toggled(result: Toggled) -> None:
    state = "enabled" if result.enabled else "disabled"
    lines = []
    if result.file_written:
        lines.append(Line(f"wrote {paths().job_file(result.name)} (enabled = {'true' if result.enabled else 'false'})"))
    elif result.job is None:
        lines.append(Line(f"{paths().job_file(result.name)} does not load: only its timer was switched off (gpuagent doctor says why)"))
    if result.timer:
        lines.append(Line(f"job {result.name}: {state}, timer {'on' if result.enabled else 'off'}"))
    elif result.job is not None and not result.job.schedule.has_timer:
        after = "each success of " + str(result.job.after) + " starts it" if result.enabled else f"{result.job.after}'s successes do not start it"
        lines.append(Line(f"job {result.name}: {state} ({after})"))
    else:
        lines.append(Line(f"job {result.name}: {state}, but it has no timer yet (gpuagent sync writes it)"))
    emit(out, *lines)
    _refresh_metrics()


def _refresh_metrics() -> None:
    """After a change to the jobs: their metrics files say so (a removed job's goes)."""
    refresh(paths(), lambda line: emit(err, Line(f"warning: {line}")))


def commands() -> dict[str, click.Command]:
    return {"add": add_command, **click_commands(jobs)}
