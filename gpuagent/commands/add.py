"""gpuagent add: validate a job, write its file and timer, enable the timer.

`--replace` overwrites the job with what the command says: the job file holds the
settings given (the image and the command are required, so the command states the whole
job; a setting left out is back to its default, as in a new job). Two things are kept
unless the command names them: whether the job is enabled (`disable` paused it; only
--enabled or --disabled changes that), and each part of the job's notify file that
--notify, --notify-on or --ping do not replace (its URLs hold tokens that the person
replacing the job may not have at hand).
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gpuagent.core.errors import GpuAgentError, InvalidInput, NotFound
from gpuagent.core.paths import Paths
from gpuagent.host.delivery import read_notify_file, write_notify_file
from gpuagent.host.files import write_atomic
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.jobs.catalog import load_job, verify_on_host
from gpuagent.jobs.chains import check_chain_change
from gpuagent.jobs.job import Job, job_from_options
from gpuagent.jobs.jobfile import job_to_toml
from gpuagent.jobs.schedule import ZONE_KEY, Schedule
from gpuagent.jobs.units import missing_units, timer_text
from gpuagent.observe.announce import notify_file_text
from gpuagent.observe.notifications import NotifySettings, Target, notify_toml, parse_events, parse_notify_file


@dataclass(frozen=True)
class AddResult:
    job: Job
    files: dict[Path, str]  # written, or that would be written with --dry-run
    dry_run: bool
    # The job's notify file, written (0600) or that would be; its text is never shown:
    # the URLs hold tokens. None: not written (an --replace without --notify/--notify-on/--ping keeps it).
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
    each URL) before anything is written. `options["enabled"]` None: neither --enabled nor
    --disabled (a new job is enabled; a replaced one stays as it was)."""
    job = verify_on_host(job_from_options(name, schedule, options), schedule_labels=(f"--{schedule.kind}", f"--{ZONE_KEY}"))
    job_file = paths.job_file(name)
    exists = job_file.exists()
    if exists and not replace:
        raise InvalidInput(f"job {name!r} already exists", f"add --replace to overwrite it, or `gpuagent remove {name}` first")
    if exists and options.get("enabled") is None:
        job = dataclasses.replace(job, enabled=_was_enabled(job_file))
    check_chain_change(paths, {name: job})
    notify_text = _notify_text(paths, name, exists, notify, notify_on, ping)
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


def _was_enabled(job_file: Path) -> bool:
    """Whether the job being replaced is enabled; one whose file no longer loads counts as enabled."""
    try:
        return load_job(job_file, on_host=False).enabled
    except (InvalidInput, NotFound):
        return True


def _notify_text(paths: Paths, name: str, replacing: bool, urls: Sequence[str], events: str | None, ping: str | None) -> str | None:
    """The job's notify file for --notify, --notify-on and --ping, or None: none given (the
    file there, if any, is kept as it is). Replacing a job, what they leave out is kept from
    the file there: --ping alone keeps its URLs and their events, --notify keeps its ping,
    and --notify-on alone gives its URLs those events."""
    written_by = f"add {name}"
    if not replacing or (not urls and events is None and ping is None):
        return notify_file_text(name, written_by, urls, events, ping)
    path = paths.notify_file(name)
    try:
        loaded = read_notify_file(path, per_job=True)
    except GpuAgentError as err:
        raise InvalidInput(
            f"--replace keeps what --notify/--notify-on/--ping leave out of the job's notify file, and it does not load: {err.message}",
            f"fix or delete {path}, then add again",
        ) from None
    kept = loaded.settings if loaded else NotifySettings()
    events_only = not urls and events is not None
    if not kept or (events_only and not kept.targets):
        return notify_file_text(name, written_by, urls, events, ping)
    given_text = notify_file_text(name, written_by, urls, None if events_only else events, ping)
    given = parse_notify_file(given_text, path, per_job=True) if given_text else NotifySettings()
    if urls:
        targets = given.targets
    elif events_only:
        targets = tuple(Target(target.url, parse_events(events)) for target in kept.targets)
    else:
        targets = kept.targets
    return notify_toml(name, NotifySettings(targets, given.ping or kept.ping), written_by)


def planned_files(paths: Paths, job: Job) -> dict[Path, str]:
    """The job file, its timer (if it has one), and each unit gpuagent ships where there is none."""
    timer = {paths.timer_file(job.name): timer_text(paths, job)} if job.schedule.has_timer else {}
    return {paths.job_file(job.name): job_to_toml(job), **timer, **missing_units(paths)}
