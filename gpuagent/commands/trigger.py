"""gpuagent trigger: run a job now, through systemd, so it is logged like a timer run."""

from gpuagent.jobs import load_job
from gpuagent.paths import Paths
from gpuagent.systemd import Systemd, service_unit_name


def trigger_job(paths: Paths, name: str) -> str:
    """Returns the unit started."""
    load_job(paths.job_file(name))
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    unit = service_unit_name(name)
    systemd.start(unit)
    return unit
