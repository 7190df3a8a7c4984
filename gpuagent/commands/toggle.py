"""gpuagent enable / disable: switch a job's timer on or off; the job file stays."""

from gpuagent.commands.common import require_known_job
from gpuagent.host.jobfiles import load_job
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.model.values import parse_name
from gpuagent.paths import Paths


def set_enabled(paths: Paths, name: str, enabled: bool) -> None:
    """A job that does not exist or validate is not switched on; one whose file no longer
    loads can still be switched off."""
    parse_name(name)
    if enabled:
        load_job(paths.job_file(name))
    else:
        require_known_job(paths, name)
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    if enabled:
        systemd.enable_now(timer_unit_name(name))
    else:
        systemd.disable_now(timer_unit_name(name))
