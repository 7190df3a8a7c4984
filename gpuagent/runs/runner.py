"""One invocation of `gpuagent run JOB`, start to end: lock, orphans, attempts (retries),
each with admission, container, output, GPU use and record.

Each attempt's history row is written before anything can fail and completed in a
`finally`; its container is removed in a `finally`. An agent killed outright cannot clean
up: its job's next run, or `gpuagent reap` (the service's ExecStopPost), removes what it
left and marks its row `lost`.
"""

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import TextIO

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.paths import Paths
from gpuagent.core.values import parse_name
from gpuagent.host.dockerd import Docker
from gpuagent.host.locks import flocked
from gpuagent.host.runfiles import remove_job_files
from gpuagent.jobs.catalog import JobFile, load_job, read_job_file
from gpuagent.jobs.catchup import is_catch_up
from gpuagent.jobs.job import Job
from gpuagent.jobs.settings import DEFAULT_STOP_GRACE
from gpuagent.observe import gpumap
from gpuagent.runs import followers as chains
from gpuagent.runs.attempt import Attempt, Log, StopRequested, Turns, attempted, ended, new_record, signals_stop_the_run
from gpuagent.runs.record import RETRYABLE, SKIPPED, RunRecord, Status
from gpuagent.runs.recorder import RunRecorder
from gpuagent.runs.runmetrics import Upstream

LOST_REASON = "its agent died while the run was going (killed?); the container was reaped"


def exit_status(job_policy: str | None, status: Status) -> int:
    """0 for success and for a skip (the next fire will do: nothing is wrong), except that
    --vram-policy fail makes a VRAM skip a failure; 1 for everything else."""
    if status == Status.SUCCEEDED:
        return 0
    if status in SKIPPED and not (status == Status.SKIPPED_VRAM and job_policy == "fail"):
        return 0
    return 1


def run_job(paths: Paths, name: str, output: TextIO, log: Log, turns: Turns | None = None) -> tuple[RunRecord, int]:
    """Run job `name`, with its retries. `output` receives the container's lines, `log`
    the agent's own; `turns` orders its wait for GPU memory among the queue's runs.
    Returns the last attempt's record and the exit status for systemd."""
    parse_name(name)
    recorder = RunRecorder(paths, log)
    start = RunStart(paths, name, log)
    try:
        run, status = _locked_run(paths, name, recorder, output, log, start, turns)
    finally:
        recorder.close()
    start.tell()  # a run that got no container: its start is told before its end
    from gpuagent.observe import announce, metrics  # loaded by start.tell(), while the container ran

    # The record is final: what is told now (notifications, then metrics, which say
    # whether the notification arrived) cannot change it.
    announce.announce_end(paths, name, run, status, log)
    metrics.refresh(paths, log, jobs=[name])
    if run.status == Status.SUCCEEDED:
        chains.start_followers(paths, run, log)
    return run, status


class RunStart:
    """A run's start, told once: its metrics say it runs (and when its timer fires next),
    and the dead man's switch gets its /start ping. Told once the job file is read and the
    run is under way (its container started, or it waits for GPU memory), else before its
    end: while a container starts and runs the agent only waits, so telling then keeps it
    off the way to the container (about 30 ms of each run)."""

    def __init__(self, paths: Paths, name: str, log: Log) -> None:
        self.paths, self.name, self.log = paths, name, log
        self.due = self.told = False

    def tell(self) -> None:
        if self.due and not self.told:
            self.told = True
            # here, not on the way to the container: with what they load, ~20 ms
            from gpuagent.observe import announce, metrics

            metrics.refresh(self.paths, self.log, jobs=[self.name])
            announce.announce_start(self.paths, self.name, self.log)


def _locked_run(
    paths: Paths, name: str, recorder: RunRecorder, output: TextIO, log: Log, start: RunStart, turns: Turns | None
) -> tuple[RunRecord, int]:
    with flocked(paths.job_lock(name), wait=False) as holding, signals_stop_the_run():
        if not holding:
            run = ended(new_record(name), Status.SKIPPED_OVERLAP, "another run of this job is still going")
            recorder.save_final(run)
            log(f"run {run.run_id} of {name}: {run.status} ({run.reason})")
            return run, 0
        # One connection for the whole invocation: the reap and every attempt. A
        # failed connect is not cached, so a retry tries again.
        connect = functools.cache(Docker)
        reap_orphans(paths, name, recorder, log, connect)
        upstream = chains.upstream_of(paths, name, log)
        return _attempts(paths, name, recorder, output, log, connect, upstream, start, turns)


def reap_orphans(paths: Paths, name: str, recorder: RunRecorder, log: Log, connect: Callable[[], Docker] = Docker) -> list[str]:
    """Remove containers of `name` and mark its `running` rows lost. Only call while
    holding the job's lock: then no live agent owns either."""
    reaped = [container.name for container in _reap_containers(paths, name, log, connect)]
    gpumap.let_go(paths, name, log)
    remove_job_files(paths, name)
    for run_id in recorder.mark_lost(name, LOST_REASON):
        log(f"run {run_id} of {name} marked lost: {LOST_REASON}")
    return reaped


def _reap_containers(paths: Paths, name: str, log: Log, connect: Callable[[], Docker]) -> list:
    try:
        docker = connect()
        containers = docker.job_containers(name)
        grace = _stop_grace(paths, name) if containers else DEFAULT_STOP_GRACE
        for container in containers:
            log(f"reaping container {container.name} left by an earlier run of {name}")
            docker.stop(container, grace=grace)
            docker.remove(container)
        return containers
    except GpuAgentError as err:
        log(f"could not look for containers left by earlier runs: {err.message}")
        return []


def _stop_grace(paths: Paths, name: str) -> int:
    """The job's own stop grace, so a container reaped gets the time its job asked for to
    save its work; the default where the job file does not load (edited, or gone)."""
    try:
        return load_job(paths.job_file(name), on_host=False).stop_grace
    except (GpuAgentError, OSError):
        return DEFAULT_STOP_GRACE


def _attempts(
    paths: Paths,
    name: str,
    recorder: RunRecorder,
    output: TextIO,
    log: Log,
    connect: Callable[[], Docker],
    upstream: Upstream | None,
    start: RunStart,
    turns: Turns | None,
) -> tuple[RunRecord, int]:
    job_file = _read_early(paths, name)
    catch_up = job_file is not None and is_catch_up(paths, job_file.job, log)

    def read_once() -> tuple:
        nonlocal job_file
        if not start.due:  # the first attempt: read (again, if it failed early); its start is due
            job_file = job_file or read_job_file(paths.job_file(name), calendar=False)
            start.due = True
        return job_file.job, job_file.sha256

    def record(attempt: int, first: RunRecord | None) -> RunRecord:
        run = new_record(name, attempt, first, upstream)
        return dataclasses.replace(run, catch_up=True) if catch_up else run

    return run_attempts(paths, record, read_once, recorder, output, log, connect, upstream, turns, start.tell)


def _read_early(paths: Paths, name: str) -> JobFile | None:
    """The job file, read before the first record (which says whether the run is a
    catch-up); None where it does not load: the first attempt reads it again, and records
    why it failed."""
    try:
        return read_job_file(paths.job_file(name), calendar=False)
    except Exception:  # noqa: BLE001 - the first attempt reads it again, and records what failed
        return None


def run_attempts(
    paths: Paths,
    record: Callable[[int, RunRecord | None], RunRecord],
    read_job: Callable[[], tuple[Job, str | None]],
    recorder: RunRecorder,
    output: TextIO,
    log: Log,
    connect: Callable[[], Docker],
    upstream: Upstream | None = None,
    turns: Turns | None = None,
    started: Callable[[], None] | None = None,
) -> tuple[RunRecord, int]:
    """A run and its retries: `record(attempt, first)` makes each attempt's first record,
    `read_job` the job (read once, at the first attempt's start), `started` is called
    when an attempt is under way (Attempt's). Returns the last
    attempt's record and the exit status for systemd."""
    first: RunRecord | None = None
    attempt = 1
    job: Job | None = None

    def read_and_keep() -> tuple[Job, str | None]:
        nonlocal job
        job, job_hash = read_job()
        return job, job_hash

    while True:
        attempt_run = Attempt(paths, record(attempt, first), recorder, output, log, connect, upstream, turns=turns, started=started)
        run = attempted(attempt_run, read_and_keep, recorder)
        log(f"run {run.run_id} of {run.job}: {run.status} ({run.reason})")
        if job is None or run.status not in RETRYABLE or attempt > job.retries:
            return run, exit_status(job.vram_policy if job else None, run.status)
        first = first or run
        attempt += 1
        log(f"retrying in {job.retry_delay}s (attempt {attempt} of {job.retries + 1})")
        try:
            time.sleep(job.retry_delay)
        except StopRequested:
            return run, 1
