"""gpuagent add: validate a job, write its file and timer, enable the timer."""

from dataclasses import dataclass
from pathlib import Path

from gpuagent.commands.common import missing_units, timer_text
from gpuagent.errors import InvalidInput
from gpuagent.host.files import write_atomic
from gpuagent.host.jobfiles import verify_on_host
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.model.job import Job, job_from_options
from gpuagent.model.jobfile import job_to_toml
from gpuagent.model.schedule import Schedule
from gpuagent.paths import Paths


@dataclass(frozen=True)
class AddResult:
    job: Job
    files: dict[Path, str]  # written, or that would be written with --dry-run
    dry_run: bool
    enabled: bool


def add_job(
    paths: Paths,
    name: str,
    schedule: Schedule,
    options: dict,
    *,
    replace: bool = False,
    enabled: bool = True,
    dry_run: bool = False,
) -> AddResult:
    job = verify_on_host(job_from_options(name, schedule, options), schedule_label=f"--{schedule.kind}")
    job_file = paths.job_file(name)
    if job_file.exists() and not replace:
        raise InvalidInput(f"job {name!r} already exists", f"add --replace to overwrite it, or `gpuagent remove {name}` first")
    files = planned_files(paths, job)
    if dry_run:
        return AddResult(job, files, dry_run=True, enabled=enabled)
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    for path, text in files.items():
        write_atomic(path, text)
    systemd.daemon_reload()
    timer = timer_unit_name(name)
    if enabled:
        systemd.enable_now(timer)
    else:
        systemd.disable_now(timer)
    return AddResult(job, files, dry_run=False, enabled=enabled)


def planned_files(paths: Paths, job: Job) -> dict[Path, str]:
    """The job file, its timer, and each unit gpuagent ships where there is none."""
    return {paths.job_file(job.name): job_to_toml(job), paths.timer_file(job.name): timer_text(paths, job), **missing_units(paths)}
