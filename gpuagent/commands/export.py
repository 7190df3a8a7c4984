"""gpuagent export: the jobs as Slurm batch scripts (and scrontab entries) or Kubernetes
CronJobs (export/exporter.py), and the check of an exported file against its job.

Every export is made before anything is written, so a job that cannot map leaves no file,
not even the others' of several jobs (or --all); each file is written whole or not at all.
"""

import dataclasses
import difflib
import shlex
from dataclasses import dataclass
from pathlib import Path

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.core.values import parse_name, printable
from gpuagent.export.engines import ENGINES
from gpuagent.export.exporter import MANIFEST, SCRIPT, SCRONTAB, SUFFIXES, Exported, ExportOptions, export_job, kind_of, read_header
from gpuagent.export.slurm import DEFAULT_RUNTIME
from gpuagent.host.calendar import check_schedule
from gpuagent.host.files import NotPlainFile, check_output_file, file_type, read_env_file, read_plain_file, write_output
from gpuagent.jobs.catalog import job_names, load_job
from gpuagent.jobs.schedule import ZONE_KEY


@dataclass(frozen=True)
class ExportRequest:
    engine: str
    runtime: str | None = None  # Slurm's; None: Pyxis
    scrontab: bool = False
    with_secret: bool = False


@dataclass(frozen=True)
class ExportResult:
    exports: list[Exported]
    written: list[Path]  # empty when the one export goes to stdout


CHECKED_BYTES = 1024 * 1024  # a file export wrote is a few KiB: more is not one of them


@dataclass(frozen=True)
class CheckResult:
    file: Path
    job: str
    command: str  # what writes the file again
    diff: list[str]  # unified diff from the file to a new export; empty: it matches


def export_jobs(paths: Paths, names: list[str], all_jobs: bool, request: ExportRequest, output: Path | None) -> ExportResult:
    """The export of the jobs `names` (or every job), to `output`: a file for one job (None:
    stdout), a directory of one file per job for several."""
    names = [parse_name(name) for name in names]  # each, before any is looked up or made a path of
    _check_request(names, all_jobs, request, output)
    names = job_names(paths.jobs_dir) if all_jobs else names
    if not names:
        raise InvalidInput(f"--all: there are no jobs in {paths.jobs_dir}", "add one first: gpuagent add NAME ...")
    several = all_jobs or len(names) > 1
    planned: list[tuple[Exported, dict[str, Path]]] = []
    for job_name in names:
        script = _file_of(SCRIPT, job_name, output, several)
        options = ExportOptions(
            request.engine,
            runtime=request.runtime or DEFAULT_RUNTIME,
            scrontab_script=str(script.resolve()) if request.scrontab and script else None,
            with_secret=request.with_secret,
        )
        exported = export_of(paths, job_name, options, every_secret=several)
        planned.append((exported, {kind: _file_of(kind, job_name, output, several) for kind in exported.files} if output else {}))
    for _, targets in planned:  # every file is checked before any is written
        for path in targets.values():
            check_output_file(path)
    written = []
    for exported, targets in planned:
        for kind, path in targets.items():
            # a Secret holds the env file's values: as private as the file (mode 0600)
            write_output(path, exported.files[kind], 0o755 if kind == SCRIPT else 0o600 if request.with_secret else 0o644)
            written.append(path)
    return ExportResult([exported for exported, _ in planned], written)


def export_of(paths: Paths, name: str, options: ExportOptions, every_secret: bool = False) -> Exported:
    """The export of job `name` as it is now: its file, its calendar in systemd's normal
    form, its env file's entries when they go in a Secret (whether it is paused is in the
    file: `enabled`).
    `every_secret`: --with-secret of several jobs, for those that have an env file."""
    job = load_job(paths.job_file(name), on_host=False)
    if every_secret and options.with_secret and job.env_file is None:
        options = dataclasses.replace(options, with_secret=False)
    job = dataclasses.replace(job, schedule=check_schedule(job.schedule, f"schedule.{job.schedule.kind}", f"schedule.{ZONE_KEY}"))
    env_pairs = read_env_file(job.env_file) if options.with_secret and job.env_file else None
    host_paths = {volume.host: kind for volume in job.volumes if (kind := file_type(volume.host)) is not None}
    return export_job(job, options, env_pairs=env_pairs, host_paths=host_paths)


def check_export(paths: Paths, file: Path) -> CheckResult:
    """Whether `file`, which `gpuagent export` wrote, is still what its job exports."""
    try:
        data = read_plain_file(file, CHECKED_BYTES)
    except NotPlainFile as err:
        raise InvalidInput(f"{file} is {err}: export writes regular files", "give a file `gpuagent export` wrote") from None
    except OSError as err:
        raise InvalidInput(f"cannot read {file}: {err.strerror or err}") from None
    if data is None:
        raise InvalidInput(f"cannot read {file}: no such file")
    text = data.decode(errors="replace")
    name, options = read_header(text)
    exported = export_of(paths, name, options)
    kind = kind_of(text)
    fresh = exported.files.get(kind, "")
    diff = list(difflib.unified_diff(text.splitlines(keepends=True), fresh.splitlines(keepends=True), str(file), f"export of {name} now"))
    again = options.command(name) + ("" if options.scrontab_script else f" -o {shlex.quote(str(file))}")
    return CheckResult(file, name, again, diff)


def _check_request(names: list[str], all_jobs: bool, request: ExportRequest, output: Path | None) -> None:
    if request.engine not in ENGINES:
        raise InvalidInput(f"{request.engine!r} is not one of {', '.join(ENGINES)}", "e.g. gpuagent export slurm JOB")
    if not names and not all_jobs:
        raise InvalidInput("give one job, or several, or --all")
    if names and all_jobs:
        raise InvalidInput("give a job or --all, not both")
    if output is not None:  # it is written into the files (the header, a scrontab entry): one line
        printable(str(output), "-o", "the path")
    several = all_jobs or len(names) > 1
    how = "--all writes" if all_jobs else "several jobs are written"
    if several and output is None:
        raise InvalidInput(f"{how} one file per job: give the directory", "e.g. -o exported/")
    if several and output.exists() and not output.is_dir():
        raise InvalidInput(f"-o {output}: not a directory", f"{how} one file per job into a directory")
    if not several and output is not None and output.is_dir():
        raise InvalidInput(
            f"-o {output} is a directory",
            f"give a file, e.g. -o {output / (names[0] + SUFFIXES[MANIFEST if request.engine == 'kubernetes' else SCRIPT])}",
        )
    if request.scrontab and output is not None and output.suffix == SUFFIXES[SCRONTAB] and not several:
        raise InvalidInput(
            f"-o {output}: that is where the scrontab entry goes", f"give the script's path, e.g. -o {output.with_suffix(SUFFIXES[SCRIPT])}"
        )
    if request.scrontab and output is None:
        raise InvalidInput(
            "--scrontab: the entry runs the script by its path: give it", "e.g. -o /shared/jobs/nightly.sbatch (the entry goes beside it, .scrontab)"
        )


def _file_of(kind: str, name: str, output: Path | None, several: bool) -> Path | None:
    """Where an export's file goes: DIR/JOB.sbatch (.scrontab, .yaml) for several jobs;
    else -o FILE, with a scrontab entry beside it (FILE.scrontab, less FILE's own suffix)."""
    if output is None:
        return None
    if several:
        return output / f"{name}{SUFFIXES[kind]}"
    if kind == SCRONTAB:
        return output.with_suffix(SUFFIXES[kind]) if output.suffix else output.with_name(output.name + SUFFIXES[kind])
    return output
