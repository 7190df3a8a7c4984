"""gpuagent remove: the job's timer and file go; its history stays."""

from gpuagent.errors import NotFound
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.model.job import validate_name
from gpuagent.paths import Paths


def remove_job(paths: Paths, name: str) -> list[str]:
    """Returns the files removed."""
    validate_name(name)
    job_file, timer_file = paths.job_file(name), paths.timer_file(name)
    if not job_file.exists() and not timer_file.exists():
        raise NotFound(f"no job named {name!r}", "see `gpuagent list` for the jobs there are")
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    if timer_file.exists():
        systemd.disable_now(timer_unit_name(name))
    removed = []
    for path in (timer_file, job_file):
        if path.exists():
            path.unlink()
            removed.append(str(path))
    systemd.daemon_reload()
    return removed
