"""gpuagent sync: make systemd's timers what the job files say. Each job's timer is written
from its file and switched on or off as its file says (schedule.enabled: a disabled job's
timer is installed but off), the timer of a job whose file is gone is removed, each unit
gpuagent ships is written where there is none (one that is there, edited or not, is
kept), and systemd is reloaded once. A job file that does not load, or whose --after chain
cannot work, keeps its timer as it is; a job that runs only --after another has no timer."""

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.core.paths import Paths
from gpuagent.host.files import write_atomic
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.jobs.catalog import job_names, load_job
from gpuagent.jobs.chains import check_chains
from gpuagent.jobs.inventory import read_timers, timer_names
from gpuagent.jobs.units import UnitState, missing_units, shipped_unit_states, timer_text


@dataclass(frozen=True)
class TimerPlan:
    write: dict[str, str]  # job -> the timer text to write: its timer is missing or differs
    new: list[str]  # of those, the jobs that have no timer yet: switched as their file says once written
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
class Switches:
    on: list[str]  # jobs whose timer is switched on: enabled in their file, new or off in systemd
    off: list[str]  # jobs whose timer is switched off: `enabled = false` in their file, new or on in systemd


def plan_switches(enabled: dict[str, bool], new: Collection[str], timers_on: dict[str, bool]) -> Switches:
    """Which timers to switch so that each is as its job file says. `enabled`: job -> its
    file's schedule.enabled, for the jobs that have a timer; `new`: those whose timer is
    written now for the first time (switched as their file says, whatever systemd holds: a
    reinstall may leave an old enablement behind); `timers_on`: job -> whether systemd has
    its timer enabled (a job missing here is left as it is: systemd could not be asked)."""
    on = [name for name, wanted in sorted(enabled.items()) if wanted and (name in new or timers_on.get(name, True) is False)]
    off = [name for name, wanted in sorted(enabled.items()) if not wanted and (name in new or timers_on.get(name, False) is True)]
    return Switches(on, off)


@dataclass(frozen=True)
class SyncResult:
    written: list[Path]  # timers, and the shipped units that were missing (or that would be, with dry_run)
    new: list[Path]  # of the timers written, those of jobs that had none and are enabled: switched on
    removed: list[Path]  # timers whose job file is gone
    unchanged: list[Path]
    broken: dict[str, InvalidInput | NotFound]  # job -> why its file does not load
    units: list[UnitState]  # the shipped units, as they were found
    dry_run: bool
    switched_on: list[Path] = field(default_factory=list)  # timers that were off and whose job file says enabled (new ones not counted)
    switched_off: list[Path] = field(default_factory=list)  # timers switched off (new ones too): their job file says enabled = false

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed or self.switched_on or self.switched_off)


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
    enabled = {name: jobs[name].enabled for name in wanted}
    already = [name for name in wanted if name in existing]
    timers_on = {name: state.enabled for name, state in read_timers(paths, already)[0].items()} if already else {}
    switches = plan_switches(enabled, plan.new, timers_on)
    if not dry_run and (files or plan.remove or switches.on or switches.off):
        _apply(paths, files, plan, switches)
    return SyncResult(
        written=list(files),
        new=[paths.timer_file(name) for name in plan.new if enabled[name]],
        removed=[paths.timer_file(name) for name in plan.remove],
        unchanged=[paths.timer_file(name) for name in plan.unchanged],
        broken=broken,
        units=units,
        dry_run=dry_run,
        switched_on=[paths.timer_file(name) for name in switches.on if name not in plan.new],
        switched_off=[paths.timer_file(name) for name in switches.off],
    )


def _apply(paths: Paths, files: dict[Path, str], plan: TimerPlan, switches: Switches) -> None:
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    for name in plan.remove:
        systemd.disable_now(timer_unit_name(name))
        paths.timer_file(name).unlink()
    for path, text in files.items():
        write_atomic(path, text)
    systemd.daemon_reload()
    for name in switches.on:
        systemd.enable_now(timer_unit_name(name))
    for name in switches.off:
        systemd.disable_now(timer_unit_name(name))
