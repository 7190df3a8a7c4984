"""gpuagent add: validate a job, write its file and timer, enable the timer."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.host.delivery import write_notify_file
from gpuagent.host.files import write_atomic
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.jobs.catalog import verify_on_host
from gpuagent.jobs.chains import check_chain_change
from gpuagent.jobs.job import Job, job_from_options
from gpuagent.jobs.jobfile import job_to_toml
from gpuagent.jobs.schedule import ZONE_KEY, Schedule
from gpuagent.jobs.units import missing_units, timer_text
from gpuagent.observe.announce import notify_file_text


@dataclass(frozen=True)
class AddResult:
    job: Job
    files: dict[Path, str]  # written, or that would be written with --dry-run
    dry_run: bool
    # The job's notify file, written (0600) or that would be; its text is never shown:
    # the URLs hold tokens. None: not written (an --replace without --notify/--ping keeps it).
    notify_file: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.job.enabled


def add_job(
    paths: Paths,
    name: str,
    schedule: Schedule,
    options: dict,
    *,
    replace: bool = False,
    dry_run: bool = False,
    notify: Sequence[str] = (),
    notify_on: str | None = None,
    ping: str | None = None,
) -> AddResult:
    """`notify`, `notify_on` and `ping`: the job's notify file, checked (Apprise must know
    each URL) before anything is written."""
    job = verify_on_host(job_from_options(name, schedule, options), schedule_labels=(f"--{schedule.kind}", f"--{ZONE_KEY}"))
    job_file = paths.job_file(name)
    if job_file.exists() and not replace:
        raise InvalidInput(f"job {name!r} already exists", f"add --replace to overwrite it, or `gpuagent remove {name}` first")
    check_chain_change(paths, {name: job})
    notify_text = notify_file_text(name, f"add {name}", notify, notify_on, ping)
    notify_file = None if notify_text is None else paths.notify_file(name)
    files = planned_files(paths, job)
    if dry_run:
        return AddResult(job, files, dry_run=True, notify_file=notify_file)
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    if notify_file is not None:
        write_notify_file(notify_file, notify_text)
    for path, text in files.items():
        write_atomic(path, text)
    timer = timer_unit_name(name)
    if not job.schedule.has_timer and paths.timer_file(name).exists():
        # replaced by a job that runs only --after another: its old timer goes
        systemd.disable_now(timer)
        paths.timer_file(name).unlink()
    systemd.daemon_reload()
    if job.schedule.has_timer:
        systemd.enable_now(timer) if job.enabled else systemd.disable_now(timer)
    return AddResult(job, files, dry_run=False, notify_file=notify_file)


def planned_files(paths: Paths, job: Job) -> dict[Path, str]:
    """The job file, its timer (if it has one), and each unit gpuagent ships where there is none."""
    timer = {paths.timer_file(job.name): timer_text(paths, job)} if job.schedule.has_timer else {}
    return {paths.job_file(job.name): job_to_toml(job), **timer, **missing_units(paths)}
