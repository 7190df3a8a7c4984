"""Parameters several commands share, and the options made from the settings table
(jobs/settings.py): one Click option per row, built from the row itself."""

import typing
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

from gpuagent.cli.app import click
from gpuagent.core.paths import resolve_paths
from gpuagent.core.quantities import parse_since


def complete_job(ctx: typer.Context, incomplete: str) -> list[str]:
    """Job names for shell completion, in the mode (--user/--system) on the line so far."""
    from gpuagent.jobs.catalog import job_names  # here: `history` reads no job file, and need not load their parsers

    paths = resolve_paths(ctx.find_root().params.get("user"))
    return [name for name in job_names(paths.jobs_dir) if name.startswith(incomplete)]


JobName = Annotated[str, typer.Argument(help="The job.", autocompletion=complete_job)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (docs/reference/json-output.md lists its fields).")]


def since_moment(text: str | None) -> datetime | None:
    """--since WHEN as a moment."""
    return None if text is None else parse_since(text, datetime.now().astimezone())


def _list_or_none(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str] | None:
    """A repeatable option or the arguments after `--`: None when none is given, as a
    job's value is then the job file's (or the --like job's)."""
    return list(values) or None


def argument(name: str, help: str, *, required: bool = False, many: bool = False, **options: Any) -> TyperArgument:
    """A positional parameter, with its help shown as Typer shows it."""
    if many:
        return TyperArgument(param_decls=[name], nargs=-1, help=help, callback=_list_or_none, **options)
    return TyperArgument(param_decls=[name], required=required, help=help, **options)


def option(*decls: str, help: str, type: Any = str, default: Any = None, **options: Any) -> TyperOption:
    """An option as Typer makes one for a parameter of that type: a bool is a flag, a list
    a repeatable option (None when not given), and a default is shown."""
    options.setdefault("show_default", True)
    if type is bool:
        return TyperOption(param_decls=list(decls), is_flag=True, default=default, help=help, **options)
    if typing.get_origin(type) is list:
        return TyperOption(param_decls=list(decls), multiple=True, help=help, callback=_list_or_none, **options)
    return TyperOption(param_decls=list(decls), type=type, default=default, help=help, **options)


def setting_options(settings: Iterable[Any], *, for_add: bool, help: dict[str, str] | None = None) -> list[TyperOption]:
    """One option per row of the settings table that has one. For `add` a required setting
    is required and a boolean defaults to the row's default; for a notebook (over a --like
    job) neither: a boolean not given is None. `help` replaces a row's where it differs."""
    help = help or {}
    return [
        option(
            setting.field,  # the name the value goes by: the Job's attribute, whatever the spelling
            *setting.options,
            help=help.get(setting.field) or setting.help,
            type=setting.kind.cli_type,
            default=setting.default if for_add and setting.kind.cli_type is bool else None,
            required=for_add and setting.required,
            metavar=setting.metavar,
        )
        for setting in settings
        if setting.options
    ]


def notify_options(*, kept: str) -> list[TyperOption]:
    """--notify, --notify-on and --ping: not settings of the table, as they go to a 0600
    notify file (URLs hold tokens). `kept` says what happens to the file already there."""
    from gpuagent.observe.notifications import DEFAULT_EVENTS, EVENTS

    notify_help = (
        "Notify this Apprise URL (repeatable): slack://..., discord://..., ntfy://TOPIC, mailto://..., tgram://..., json://HOST:PORT/PATH. "
        f"Kept in a 0600 file, never shown; {kept}."
    )
    events_help = f"Events the --notify URLs get, comma-separated: {', '.join(EVENTS)} (default: {','.join(DEFAULT_EVENTS)})."
    ping_help = "Dead man's switch (healthchecks.io): POST URL/start as a run starts, URL when it exits 0, URL/fail with its log tail otherwise."
    return [
        option("--notify", help=notify_help, type=list[str], metavar="URL"),
        option("--notify-on", help=events_help, metavar="EVENTS"),
        option("--ping", help=ping_help, metavar="URL"),
    ]
