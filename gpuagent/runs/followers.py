"""A run's part in a chain (--after): what started it, and the jobs its success starts.

A follower is started through systemd, like a timer's run (its own unit, journal and
admission: it may wait for GPU memory), with a note saying which run started it
(runs/chaintrigger.py). It reads that run's numbers, and those of the upstream job's
previous success, from history.
"""

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host.historydb import STORE_ERRORS, existing_history
from gpuagent.host.systemd import Systemd, service_unit_name
from gpuagent.jobs.catalog import load_job
from gpuagent.jobs.chains import followers
from gpuagent.jobs.inventory import job_afters
from gpuagent.runs import chaintrigger
from gpuagent.runs.record import RunRecord
from gpuagent.runs.runmetrics import Upstream


def upstream_of(paths: Paths, name: str, log: Log) -> Upstream | None:
    """The run whose success started this run of `name`, if one did."""
    left = chaintrigger.take(paths, name)
    if left is None:
        return None
    job, run_id = left
    try:
        with existing_history(paths) as store:
            run = store.get(run_id) if store else None
            previous = store.last_success(job, before=run.started_at) if store and run else None
    except (GpuAgentError, *STORE_ERRORS) as err:
        log(f"could not read run {run_id} of {job} in history ({err}): its metrics are not passed on")
        run = previous = None
    log(f"started by run {run_id} of {job}, which succeeded")
    return Upstream(
        job=job,
        run_id=run_id,
        metrics=(run.metrics if run else None) or {},
        previous_run_id=previous.run_id if previous else None,
        previous_metrics=(previous.metrics if previous else None) or {},
    )


def start_followers(paths: Paths, run: RunRecord, log: Log) -> None:
    """Start each job that runs after `run`'s job, which just succeeded: not one that is
    running already, nor one that is disabled."""
    systemd = Systemd(paths.user_mode)
    for follower in followers(job_afters(paths), run.job):
        try:
            if _switched_off(paths, follower):
                log(f"{follower} runs after {run.job}, but it is disabled: not started")
                continue
            if systemd.service_state(service_unit_name(follower)).running:
                log(f"{follower} runs after {run.job}, but is still running: not started again")
                continue
            chaintrigger.leave(paths, follower, run.job, run.run_id)
            systemd.start(service_unit_name(follower))
        except (GpuAgentError, OSError) as err:
            chaintrigger.withdraw(paths, follower)
            log(f"could not start {follower}, which runs after {run.job}: {err}")
            continue
        log(f"started {follower}, which runs after {run.job}")


def _switched_off(paths: Paths, job: str) -> bool:
    """Whether the job's file says it is disabled (`enabled = false`), timer or none."""
    return not load_job(paths.job_file(job), on_host=False).enabled
