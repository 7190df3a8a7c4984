"""gpuagent show: one job, its timer and its next fire times."""

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.paths import Paths
from gpuagent.host.calendar import next_elapses
from gpuagent.host.delivery import read_notify_file
from gpuagent.host.historydb import existing_history
from gpuagent.host.systemd import TimerState
from gpuagent.jobs.catalog import read_job_file
from gpuagent.jobs.chains import circle_through, followers
from gpuagent.jobs.inventory import job_afters, read_timers
from gpuagent.jobs.job import Job
from gpuagent.jobs.settings import AUTO_VRAM
from gpuagent.runs.vramneed import LEARN_FROM_RUNS, VramNeed, vram_need

NEXT_FIRES = 3


@dataclass(frozen=True)
class NotifyOverview:
    """What is told about the job, never where: the URLs hold tokens."""

    file: str  # the job's notify file (there or not)
    targets: list[tuple[str, tuple[str, ...]]]  # ("host" or "job", the events it gets), one per URL
    ping: bool  # a dead man's switch is set
    problems: list[str]  # notify files that do not load, or that others can read


@dataclass(frozen=True)
class JobDetail:
    job: Job
    job_file: str
    job_text: str
    timer_file: str
    timer_text: str | None  # None when the timer file is missing
    timer: TimerState | None  # None when systemd could not be asked
    systemd_problem: str | None
    next_fires: list[datetime]
    notify: NotifyOverview | None = None
    followers: list[str] = dataclasses.field(default_factory=list)  # the jobs that run after this one
    vram_need: VramNeed | None = None  # what --min-free-vram auto asks for now, and why; None: not auto
    circle: list[str] | None = None  # the circle of --after jobs it lies on (written by hand): its followers are never started


def show_job(paths: Paths, name: str) -> JobDetail:
    job_file = paths.job_file(name)
    loaded = read_job_file(job_file, on_host=False)
    job = loaded.job
    timer_file = paths.timer_file(name)
    timers, systemd_problem = read_timers(paths, [name])
    afters = job_afters(paths)
    return JobDetail(
        job=job,
        job_file=str(job_file),
        job_text=loaded.text,
        timer_file=str(timer_file),
        timer_text=timer_file.read_text() if timer_file.is_file() else None,
        timer=timers.get(name),
        systemd_problem=systemd_problem,
        next_fires=next_elapses(job.schedule, NEXT_FIRES),
        notify=notify_overview(paths, name),
        followers=followers(afters, name),
        vram_need=_learned_need(paths, job),
        circle=circle_through(afters, name),
    )


def _learned_need(paths: Paths, job: Job) -> VramNeed | None:
    """For --min-free-vram auto: the need the job's next run would ask for."""
    if job.min_free_vram != AUTO_VRAM:
        return None
    with existing_history(paths) as store:
        peaks = [] if store is None else store.recent_peaks((job.name,), LEARN_FROM_RUNS)
    return vram_need(job.min_free_vram, peaks, job.name)


def notify_overview(paths: Paths, name: str) -> NotifyOverview:
    targets, ping, problems = [], False, []
    for scope, path, per_job in (("host", paths.host_notify_file, False), ("job", paths.notify_file(name), True)):
        try:
            loaded = read_notify_file(path, per_job=per_job)
        except GpuAgentError as err:
            problems.append(err.message)
            continue
        if loaded is None:
            continue
        targets += [(scope, target.events) for target in loaded.settings.targets]
        ping = ping or loaded.settings.ping is not None
        if loaded.exposed:
            problems.append(loaded.exposed)
    return NotifyOverview(str(paths.notify_file(name)), targets, ping, problems)
