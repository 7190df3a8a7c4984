"""A run's part in a chain (--after): what started it, and the jobs its success starts.

A follower is started through systemd, like a timer's run (its own unit, journal and
admission: it may wait for GPU memory), with a note saying which run started it
(runs/chaintrigger.py). It reads that run's numbers, and those of the upstream job's
previous success, from history.

A follower still running when its upstream succeeds runs once more when its run ends
(one start pending, however many successes come meanwhile): the end of its service
(`gpuagent reap`, the ExecStopPost) starts it, so nothing stays resident to wait for it.
A follower that lies on a circle of --after jobs (written by hand into the job files)
is never started: each success would start the next job round it, forever.
"""

from collections.abc import Mapping
from datetime import datetime

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.core.values import NAME_PATTERN
from gpuagent.host.historydb import STORE_ERRORS, existing_history
from gpuagent.host.systemd import Systemd, service_unit_name
from gpuagent.jobs.catalog import load_job
from gpuagent.jobs.chains import circle_problem, circle_through, followers
from gpuagent.jobs.inventory import job_afters
from gpuagent.runs import chaintrigger
from gpuagent.runs.record import RunRecord
from gpuagent.runs.runmetrics import Upstream


def upstream_of(paths: Paths, name: str, log: Log) -> Upstream | None:
    """The run whose success started this run of `name`, if one did."""
    left = chaintrigger.take(paths, name)
    if left is None:
        return None
    job, run_id, pending_since = left
    try:
        with existing_history(paths) as store:
            run = store.get(run_id) if store else None
            previous = store.last_success(job, before=run.started_at) if store and run else None
    except (GpuAgentError, *STORE_ERRORS) as err:
        log(f"could not read run {run_id} of {job} in history ({err}): its metrics are not passed on")
        run = previous = None
    pending = "" if pending_since is None else f"; a start was pending: {job} succeeded at {_moment(pending_since)} while this job ran"
    log(f"started by run {run_id} of {job}, which succeeded{pending}")
    return Upstream(
        job=job,
        run_id=run_id,
        metrics=(run.metrics if run else None) or {},
        previous_run_id=previous.run_id if previous else None,
        previous_metrics=(previous.metrics if previous else None) or {},
    )


def start_followers(paths: Paths, run: RunRecord, log: Log) -> None:
    """Start each job that runs after `run`'s job, which just succeeded, unless it is not
    to be (`_not_started_because`); one still running gets a pending start instead (it
    runs once more when its run ends)."""
    systemd = Systemd(paths.user_mode)
    afters = job_afters(paths)
    for follower in followers(afters, run.job):
        try:
            refused = _not_started_because(paths, afters, follower)
            if refused:
                log(f"{follower} runs after {run.job}, but is not started: {refused}")
                continue
            running = systemd.service_state(service_unit_name(follower)).running
            chaintrigger.leave(paths, follower, run.job, run.run_id, pending_since=(run.ended_at or run.started_at) if running else None)
            # Started even when running: it may have ended since it was asked, and the
            # start of an active unit does nothing. A stop asked of it is not cancelled.
            systemd.start(service_unit_name(follower), unless_stopping=True)
        except (GpuAgentError, OSError) as err:
            chaintrigger.withdraw(paths, follower)
            log(f"could not start {follower}, which runs after {run.job}: {err}")
            continue
        if running:
            log(f"{follower} runs after {run.job}, but is still running: a start is pending, it runs once more when this run of it ends")
        else:
            log(f"started {follower}, which runs after {run.job}")


def start_pending(paths: Paths, name: str, log: Log) -> None:
    """At the end of a run of `name` (its service's ExecStopPost): start the job once more
    if its upstream succeeded while it ran. A start refused because the service is being
    stopped (by a person, or the shutdown) drops the pending start."""
    if not NAME_PATTERN.fullmatch(name) or not chaintrigger.take_pending(paths, name):
        return
    try:
        Systemd(paths.user_mode).start(service_unit_name(name), unless_stopping=True)
    except GpuAgentError as err:
        chaintrigger.withdraw(paths, name)
        log(f"a start of {name} was pending (its upstream succeeded while it ran), but it is not started: {err}")
        return
    log(f"a start of {name} was pending (its upstream succeeded while it ran): it starts once more")


def _moment(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def started_by_success(paths: Paths, job: str) -> list[str]:
    """The jobs a success of `job` starts (what `trigger --wait` waits for): those that run
    after it, less those not to be started. A follower whose file does not load is left
    out: its start would fail."""
    afters = job_afters(paths)
    started = []
    for follower in followers(afters, job):
        try:
            if _not_started_because(paths, afters, follower) is None:
                started.append(follower)
        except GpuAgentError:
            continue
    return started


def _not_started_because(paths: Paths, afters: Mapping[str, str | None], follower: str) -> str | None:
    """Why a success upstream does not start `follower`, or None: it lies on a circle of
    --after jobs (written by hand into the job files), or its file says it is disabled
    (`enabled = false`, timer or none)."""
    circle = circle_through(afters, follower)
    if circle is not None:
        return circle_problem(circle)
    if not load_job(paths.job_file(follower), on_host=False).enabled:
        return "it is disabled (enabled = false in its job file)"
    return None
