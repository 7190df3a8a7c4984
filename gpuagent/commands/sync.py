"""gpuagent sync: make systemd's timers what the job files say. Each job's timer is written
from its file, the timer of a job whose file is gone is removed, each unit gpuagent ships
is written where there is none (one that is there, edited or not, is kept), and systemd
is reloaded once. A job file that does not load, or whose --after chain cannot work,
keeps its timer as it is; a job that runs only --after another has no timer."""

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.core.paths import Paths
from gpuagent.host.files import write_atomic
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.jobs.catalog import job_names, load_job
from gpuagent.jobs.chains import check_chains
from gpuagent.jobs.inventory import timer_names
from gpuagent.jobs.units import UnitState, missing_units, shipped_unit_states, timer_text


@dataclass(frozen=True)
class TimerPlan:
    write: dict[str, str]  # job -> the timer text to write: its timer is missing or differs
    new: list[str]  # of those, the jobs that have no timer yet: switched on once written
    remove: list[str]  # jobs whose timer is left without a job file
    unchanged: list[str]


def plan_timers(wanted: dict[str, str], existing: dict[str, str], keep: Collection[str]) -> TimerPlan:
    """What to change so that each timer is the one its job file calls for. `wanted`: job ->
    that timer; `existing`: job -> its timer file's text; `keep`: jobs whose file is there
    but does not load, whose timer stays as it is."""
    write = {name: text for name, text in sorted(wanted.items()) if existing.get(name) != text}
    return TimerPlan(
        write=write,
        new=[name for name in write if name not in existing],
        remove=sorted(name for name in existing if name not in wanted and name not in keep),
        unchanged=sorted(name for name in wanted if name not in write),
    )


@dataclass(frozen=True)
class SyncResult:
    written: list[Path]  # timers, and the shipped units that were missing (or that would be, with dry_run)
    new: list[Path]  # of the timers written, those of jobs that had none: switched on
    removed: list[Path]  # timers whose job file is gone
    unchanged: list[Path]
    broken: dict[str, InvalidInput | NotFound]  # job -> why its file does not load
    units: list[UnitState]  # the shipped units, as they were found
    dry_run: bool

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def sync_timers(paths: Paths, *, dry_run: bool = False) -> SyncResult:
    jobs, broken = {}, {}
    for name in job_names(paths.jobs_dir):
        try:
            jobs[name] = load_job(paths.job_file(name))
        except (InvalidInput, NotFound) as err:
            broken[name] = err
    afters = {**dict.fromkeys(broken), **{name: job.after for name, job in jobs.items()}}  # a broken job follows none
    wanted = {}
    for name, job in jobs.items():
        try:
            check_chains(afters, [name])
        except InvalidInput as err:
            broken[name] = err
            continue
        if job.schedule.has_timer:  # one that runs only --after another has none
            wanted[name] = timer_text(paths, job)
    existing = {name: paths.timer_file(name).read_text() for name in timer_names(paths)}
    plan = plan_timers(wanted, existing, keep=broken)
    files = {**{paths.timer_file(name): text for name, text in plan.write.items()}, **missing_units(paths)}
    units = shipped_unit_states(paths)
    if not dry_run and (files or plan.remove):
        _apply(paths, files, plan)
    return SyncResult(
        written=list(files),
        new=[paths.timer_file(name) for name in plan.new],
        removed=[paths.timer_file(name) for name in plan.remove],
        unchanged=[paths.timer_file(name) for name in plan.unchanged],
        broken=broken,
        units=units,
        dry_run=dry_run,
    )


def _apply(paths: Paths, files: dict[Path, str], plan: TimerPlan) -> None:
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    for name in plan.remove:
        systemd.disable_now(timer_unit_name(name))
        paths.timer_file(name).unlink()
    for path, text in files.items():
        write_atomic(path, text)
    systemd.daemon_reload()
    for name in plan.new:
        systemd.enable_now(timer_unit_name(name))
