"""gpuagent export: one subcommand per engine (slurm, kubernetes), each with only the
options that engine has, and check. The spelling before them (`export JOB --to ENGINE`,
`export --check FILE`) still works, with a note on stderr of the new one."""

import shlex
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from gpuagent.cli.app import COMMANDS, click, command_set, err, out, paths
from gpuagent.cli.options import complete_job
from gpuagent.commands.export import ExportRequest, check_export, export_jobs
from gpuagent.core.errors import InvalidInput
from gpuagent.views import text
from gpuagent.views.screen import Line, emit

CHECK = "check"


class _ExportCommands(TyperGroup):
    """The subcommands, and the old spelling turned into the new before they are parsed."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] != "--help":
            args = self._new_spelling(args)
            emit(err, Line(f"note: this is now spelled `gpuagent export {shlex.join(args)}`"))
        return super().parse_args(ctx, args)

    def _new_spelling(self, args: list[str]) -> list[str]:
        """`JOB --to ENGINE ...` as `ENGINE JOB ...`, `--check FILE` as `check FILE`."""
        rest = list(args)
        for flag in ("--check", "--to"):
            for at, word in enumerate(rest):
                if word == flag and at + 1 < len(rest):
                    value = rest[at + 1]
                    del rest[at : at + 2]
                elif word.startswith(f"{flag}="):
                    value = word.partition("=")[2]
                    del rest[at]
                else:
                    continue
                if flag == "--check":
                    return [CHECK, value, *rest]
                engines = [name for name in self.commands if name != CHECK]
                if value not in engines:
                    raise InvalidInput(f"--to: {value!r} is not one of {', '.join(engines)}", f"e.g. gpuagent export {engines[0]} JOB")
                return [value, *rest]
        raise InvalidInput(f"export {args[0]}: name the engine first", "e.g. gpuagent export slurm JOB, or gpuagent export kubernetes JOB")


exports = command_set(name="export", cls=_ExportCommands, help=COMMANDS["export"].summary, no_args_is_help=True)

Jobs = Annotated[list[str] | None, typer.Argument(help="The jobs (or --all).", autocompletion=complete_job, show_default=False)]
AllJobs = Annotated[bool, typer.Option("--all", help="Every job, one file each, into the -o directory.")]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (a directory for several jobs or --all), whole or not at all (default: stdout)."),
]
MADE = (
    "made from their job files: the same job, the same bytes. Says on stderr each setting that "
    "maps only approximately, and how; refuses, writing nothing, a job with a setting that cannot map."
)


@exports.command(help=f"Write jobs as Slurm batch scripts, {MADE}")
def slurm(
    jobs: Jobs = None,
    all_jobs: AllJobs = False,
    output: Output = None,
    runtime: Annotated[
        str | None,
        typer.Option(
            "--runtime", help="How the script runs the container: pyxis (srun --container-image; the default) or docker.", metavar="RUNTIME"
        ),
    ] = None,
    scrontab: Annotated[
        bool, typer.Option("--scrontab", help="Also write a scrontab entry beside the script (FILE.scrontab) that runs it on the job's schedule.")
    ] = False,
) -> None:
    _export(jobs, all_jobs, output, ExportRequest("slurm", runtime=runtime, scrontab=scrontab))


@exports.command(help=f"Write jobs as Kubernetes CronJobs, {MADE}")
def kubernetes(
    jobs: Jobs = None,
    all_jobs: AllJobs = False,
    output: Output = None,
    with_secret: Annotated[
        bool, typer.Option("--with-secret", help="Put the job's env file in a Secret before the CronJob (it holds the values: the file is 0600).")
    ] = False,
) -> None:
    _export(jobs, all_jobs, output, ExportRequest("kubernetes", with_secret=with_secret))


def _export(jobs: list[str] | None, all_jobs: bool, output: Path | None, request: ExportRequest) -> None:
    result = export_jobs(paths(), jobs or [], all_jobs, request, output)
    text.export_notes(err, result)
    if output is None:
        [exported] = result.exports
        out.stream.write("".join(exported.files.values()))
        return
    text.export_written(out, result)


@exports.command(CHECK)
def check(files: Annotated[list[Path], typer.Argument(help="Files `gpuagent export` wrote.")]) -> None:
    """Say whether each FILE, which export wrote, still matches its job (exit 1 if one does not, with the diff)."""
    drifted = False
    for file in files:
        checked = check_export(paths(), file)
        text.export_check(out, checked)
        drifted = drifted or bool(checked.diff)
    raise typer.Exit(1 if drifted else 0)


def commands() -> dict[str, click.Command]:
    return {"export": typer.main.get_group(exports)}
