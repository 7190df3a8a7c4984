"""gpuagent enable / disable: switch a job's timer on or off; the job file stays."""

from gpuagent.host.jobfiles import load_job
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.paths import Paths


def set_enabled(paths: Paths, name: str, enabled: bool) -> None:
    load_job(paths.job_file(name))  # a job that does not exist or validate is not switched on
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    if enabled:
        systemd.enable_now(timer_unit_name(name))
    else:
        systemd.disable_now(timer_unit_name(name))
