"""gpuagent remove: the job's timer, file and notify file go; its history stays. A job
that others run --after is not removed while they do."""

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.core.values import parse_name
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.jobs.chains import followers
from gpuagent.jobs.inventory import job_afters, require_known_job


def remove_job(paths: Paths, name: str) -> list[str]:
    """Returns the files removed."""
    parse_name(name)
    require_known_job(paths, name)
    following = followers(job_afters(paths), name)
    if following:
        raise InvalidInput(
            f"job {name} is followed by {', '.join(following)} (--after {name}): removing it would leave them waiting forever",
            f"remove {' and '.join(following)} first, or re-add them with another --after or a schedule of their own",
        )
    job_file, timer_file, notify_file = paths.job_file(name), paths.timer_file(name), paths.notify_file(name)
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    if timer_file.exists():
        systemd.disable_now(timer_unit_name(name))
    removed = []
    for path in (timer_file, job_file, notify_file):
        if path.exists():
            path.unlink()
            removed.append(str(path))
    systemd.daemon_reload()
    return removed
