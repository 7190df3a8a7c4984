"""gpuagent enable / disable: pause a job or let it run again. The job file holds it
(schedule.enabled, so a reinstall or `sync` keeps it), and its timer follows; a job that
runs only --after another has no timer, and its upstream's successes do not start it while
it is disabled."""

import stat
from dataclasses import dataclass

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.core.paths import Paths
from gpuagent.core.values import parse_name
from gpuagent.host.files import write_atomic
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.jobs.catalog import load_job, read_job_file
from gpuagent.jobs.inventory import require_known_job
from gpuagent.jobs.job import Job
from gpuagent.jobs.jobfile import with_enabled


@dataclass(frozen=True)
class Toggled:
    name: str
    enabled: bool
    job: Job | None  # None: its file does not load (only its timer was switched off)
    file_written: bool  # the job file changed (it said otherwise)
    timer: bool  # it has a timer, switched to match


def set_enabled(paths: Paths, name: str, enabled: bool) -> Toggled:
    """A job that does not exist or validate is not switched on; one whose file no longer
    loads can still have its timer switched off."""
    parse_name(name)
    job_file = paths.job_file(name)
    if enabled:
        job: Job | None = load_job(job_file)
    else:
        require_known_job(paths, name)
        job = _loadable(paths, name)
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    file_written = False
    if job is not None and job.enabled is not enabled:
        text = read_job_file(job_file, on_host=False).text
        write_atomic(job_file, with_enabled(text, enabled, job_file), mode=stat.S_IMODE(job_file.stat().st_mode))
        file_written = True
    timer = paths.timer_file(name).exists()
    if timer:
        systemd.enable_now(timer_unit_name(name)) if enabled else systemd.disable_now(timer_unit_name(name))
    return Toggled(name, enabled, job, file_written, timer)


def _loadable(paths: Paths, name: str) -> Job | None:
    try:
        return load_job(paths.job_file(name), on_host=False)
    except (InvalidInput, NotFound):
        return None
