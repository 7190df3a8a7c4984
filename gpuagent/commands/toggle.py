"""gpuagent enable / disable: switch a job's timer on or off; the job file stays."""

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.core.values import parse_name
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.jobs.catalog import load_job
from gpuagent.jobs.inventory import require_known_job
from gpuagent.jobs.job import Job


def set_enabled(paths: Paths, name: str, enabled: bool) -> None:
    """A job that does not exist or validate is not switched on; one whose file no longer
    loads can still be switched off."""
    parse_name(name)
    if enabled:
        job = load_job(paths.job_file(name))
        _require_timer(job)
    else:
        require_known_job(paths, name)
        if not paths.timer_file(name).exists() and paths.job_file(name).exists():
            _require_timer(load_job(paths.job_file(name), on_host=False))
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    if enabled:
        systemd.enable_now(timer_unit_name(name))
    else:
        systemd.disable_now(timer_unit_name(name))


def _require_timer(job: Job) -> None:
    if not job.schedule.has_timer:
        raise InvalidInput(
            f"job {job.name} has no timer to switch: it runs only after {job.after} succeeds",
            f"give it a schedule of its own (gpuagent add {job.name} --replace --at ...), or remove it",
        )
