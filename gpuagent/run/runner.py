"""One invocation of `gpuagent run JOB`, start to end: lock, orphans, attempts (retries),
each with admission, container, output, GPU use and record.

Each attempt's history row is written before anything can fail and completed in a
`finally`; its container is removed in a `finally`. An agent killed outright cannot clean
up: its job's next run, or `gpuagent reap` (the service's ExecStopPost), removes what it
left and marks its row `lost`.
"""

import collections
import dataclasses
import functools
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from gpuagent.errors import GpuAgentError
from gpuagent.host.dockerd import Docker, container_spec
from gpuagent.host.jobfiles import JobFile, load_job, read_job_file
from gpuagent.host.locks import flocked
from gpuagent.host.runfiles import RunFiles, remove_job_files
from gpuagent.model.run import RETRYABLE, SKIPPED, RunRecord, Status
from gpuagent.model.runmetrics import Upstream, run_environment
from gpuagent.model.settings import DEFAULT_STOP_GRACE
from gpuagent.model.sizes import format_size
from gpuagent.model.values import parse_name
from gpuagent.observe import gpumap, metrics, notify
from gpuagent.paths import Paths
from gpuagent.run import admission, chains
from gpuagent.run.outcome import classify, says_cuda_oom
from gpuagent.run.recorder import RunRecorder
from gpuagent.run.reservations import Reservations

LOG_TAIL_LINES = 50
VRAM_POLL_SECONDS = 2.0
WAIT_REPORT_SECONDS = 60.0
LOST_REASON = "its agent died while the run was going (killed?); the container was reaped"

Log = Callable[[str], None]


class StopRequested(BaseException):
    """SIGTERM or SIGINT reached the agent during a run. A BaseException, like
    KeyboardInterrupt, so no library's `except Exception` swallows it."""


class NoGpuFits(GpuAgentError):
    """Admission found no GPU with what the job needs."""


def new_run_id() -> str:
    return secrets.token_hex(6)


def exit_status(job_policy: str | None, status: Status) -> int:
    """0 for success and for a skip (the next fire will do: nothing is wrong), except that
    --vram-policy fail makes a VRAM skip a failure; 1 for everything else."""
    if status == Status.SUCCEEDED:
        return 0
    if status in SKIPPED and not (status == Status.SKIPPED_VRAM and job_policy == "fail"):
        return 0
    return 1


def run_job(paths: Paths, name: str, output: TextIO, log: Log) -> tuple[RunRecord, int]:
    """Run job `name`, with its retries. `output` receives the container's lines, `log`
    the agent's own. Returns the last attempt's record and the exit status for systemd."""
    parse_name(name)
    recorder = RunRecorder(paths, log)
    try:
        run, status = _locked_run(paths, name, recorder, output, log)
    finally:
        recorder.close()
    # The record is final: what is told now (notifications, then metrics, which say
    # whether the notification arrived) cannot change it.
    notify.announce_end(paths, name, run, status, log)
    metrics.refresh(paths, log, jobs=[name])
    if run.status == Status.SUCCEEDED:
        chains.start_followers(paths, run, log)
    return run, status


def _locked_run(paths: Paths, name: str, recorder: RunRecorder, output: TextIO, log: Log) -> tuple[RunRecord, int]:
    with flocked(paths.job_lock(name), wait=False) as holding, _signals_stop_the_run():
        if not holding:
            run = _ended(_new_record(name), Status.SKIPPED_OVERLAP, "another run of this job is still going")
            recorder.save_final(run)
            log(f"run {run.run_id} of {name}: {run.status} ({run.reason})")
            return run, 0
        # One connection for the whole invocation: the reap and every attempt. A
        # failed connect is not cached, so a retry tries again.
        connect = functools.cache(Docker)
        reap_orphans(paths, name, recorder, log, connect)
        upstream = chains.upstream_of(paths, name, log)
        return _attempts(paths, name, recorder, output, log, connect, upstream)


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
    paths: Paths, name: str, recorder: RunRecorder, output: TextIO, log: Log, connect: Callable[[], Docker], upstream: Upstream | None
) -> tuple[RunRecord, int]:
    job_file: JobFile | None = None
    first: RunRecord | None = None
    attempt = 1
    while True:
        attempt_run = _Attempt(paths, _new_record(name, attempt, first, upstream), recorder, output, log, connect, upstream)
        try:
            if job_file is None:
                job_file = read_job_file(paths.job_file(name))
                # the timer's next fire and the running run, seen before a long run ends
                metrics.refresh(paths, log, jobs=[name])
                notify.announce_start(paths, name, log)
            run = attempt_run.execute(job_file)
        except StopRequested:
            run = _ended(attempt_run.run, Status.STOPPED, "stopped by a signal to gpuagent (systemctl stop, Ctrl-C)")
        except GpuAgentError as err:
            run = _ended(attempt_run.run, Status.ERROR, err.message)
        except BaseException as err:
            recorder.save_final(_ended(attempt_run.run, Status.ERROR, f"gpuagent failed: {err!r} (see the journal)"))
            raise
        recorder.save_final(run)
        log(f"run {run.run_id} of {name}: {run.status} ({run.reason})")
        job = None if job_file is None else job_file.job
        if job is None or run.status not in RETRYABLE or attempt > job.retries:
            return run, exit_status(job.vram_policy if job else None, run.status)
        first = first or run
        attempt += 1
        log(f"retrying in {job.retry_delay}s (attempt {attempt} of {job.retries + 1})")
        try:
            time.sleep(job.retry_delay)
        except StopRequested:
            return run, 1


def _new_record(name: str, attempt: int = 1, first: RunRecord | None = None, upstream: Upstream | None = None) -> RunRecord:
    return RunRecord(
        run_id=new_run_id(),
        job=name,
        invocation_id=os.environ.get("INVOCATION_ID"),
        agent_pid=os.getpid(),
        started_at=time.time(),
        ended_at=None,
        status=Status.RUNNING,
        exit_code=None,
        reason=None,
        gpu_uuids=(),
        image=None,
        container_id=None,
        attempt=attempt,
        first_run_id=None if first is None else first.run_id,
        upstream_run_id=None if upstream is None else upstream.run_id,
    )


def _ended(run: RunRecord, status: Status, reason: str, **fields) -> RunRecord:
    return dataclasses.replace(run, status=status, reason=reason, ended_at=time.time(), **fields)


@contextmanager
def _signals_stop_the_run() -> Iterator[None]:
    """Turn the first SIGTERM/SIGINT into StopRequested; ignore repeats, so clean-up
    itself is not interrupted."""
    stopping = False

    def handler(signum, frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise StopRequested

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Attempt:
    """One attempt: one history row, at most one container. `run` is its latest record."""

    def __init__(
        self, paths: Paths, run: RunRecord, recorder: RunRecorder, output: TextIO, log: Log, connect: Callable[[], Docker], upstream: Upstream | None
    ) -> None:
        self.paths, self.recorder, self.output, self.log = paths, recorder, output, log
        self.connect, self.upstream = connect, upstream
        self.run = run
        self.recorder.save(run)
        self.reservations = Reservations(paths.runtime_dir)
        self.log_tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self.cuda_oom_seen = False

    def execute(self, job_file: JobFile) -> RunRecord:
        self.job = job = job_file.job
        # kept in memory, written with the next update: even a run docker refuses says its image
        self.run = dataclasses.replace(self.run, image=job.image, job_hash=job_file.sha256)
        docker = self.connect()
        image = docker.image_info(job.image)
        self._update(image_digest=image.digest)
        if not self.job.uses_gpu:
            return self._contain(docker, image.user, ())
        # What admission holds (a claim, dcgm-exporter's job mapping) is let go in the
        # finally, whether it ends in a skip, a run or a stop in between.
        try:
            decision = self._admit(docker)
            return self._contain(docker, image.user, decision.gpu_uuids)
        except NoGpuFits as err:
            return _ended(self.run, Status.SKIPPED_VRAM, err.message)
        finally:
            self.reservations.release(self.run.run_id)
            gpumap.let_go(self.paths, job.name, self.log)

    def _update(self, **fields) -> None:
        self.run = dataclasses.replace(self.run, **fields)
        self.recorder.save(self.run)

    # -- admission -----------------------------------------------------------------

    def _admit(self, docker: Docker) -> admission.Admission:
        """Decide under the host-wide lock and claim the memory; poll while the policy
        is `wait` and the deadline is ahead."""
        from gpuagent.host.nvml import driver_version, read_gpus

        job = self.job
        needs = admission.Needs(job.gpus, job.min_free_vram, job.gpu_ids, job.max_gpu_util, job.exclusive)
        deadline = time.monotonic() + job.vram_wait
        best_free = 0
        next_report = time.monotonic()
        while True:
            with self.reservations.admission() as book:
                gpus = read_gpus()
                own_pids = self._gpuagent_pids(docker, gpus) if job.exclusive else frozenset()
                decision = admission.decide(book.unclaimed(gpus), needs, own_pids)
                if decision.admitted:
                    book.claim(self.run.run_id, decision.gpu_uuids, job.min_free_vram or 0)
            if decision.admitted:
                held = [gpu for gpu in gpus if gpu.uuid in decision.gpu_uuids]
                names = ",".join(gpu.name or "?" for gpu in held)
                self.log(decision.reason)
                gpumap.hold(self.paths, [gpu.index for gpu in held], job.name, self.log)
                self._update(gpu_uuids=decision.gpu_uuids, gpu_names=names, driver_version=driver_version())
                return decision
            best_free = max([best_free, *(gpu.free_bytes for gpu in gpus if gpu.available)])
            if job.vram_policy != "wait" or time.monotonic() >= deadline:
                waited = "" if job.vram_policy != "wait" else f" after waiting {job.vram_wait}s; best free seen {format_size(best_free)}"
                raise NoGpuFits(decision.reason + waited)
            if time.monotonic() >= next_report:
                self.log(f"waiting for GPU memory: {decision.reason}")
                next_report = time.monotonic() + WAIT_REPORT_SECONDS
            time.sleep(VRAM_POLL_SECONDS)

    @staticmethod
    def _gpuagent_pids(docker: Docker, gpus) -> frozenset[int]:
        from gpuagent.host.procs import container_id_of_pid

        ours = docker.job_of_containers()
        return frozenset(p.pid for gpu in gpus for p in gpu.processes if container_id_of_pid(p.pid) in ours)

    # -- the container --------------------------------------------------------------

    def _contain(self, docker: Docker, image_user: str, gpu_uuids: tuple[str, ...]) -> RunRecord:
        """Run the container; the record says how it ended and what it reported."""
        run_files = RunFiles(self.paths, self.job.name, self.run.run_id, self.upstream)
        try:
            run = self._run_container(docker, image_user, gpu_uuids, run_files)
            reported = run_files.reported()
        finally:
            run_files.remove()
        if reported.problem:
            self.log(f"run {run.run_id}: {reported.problem}")
        return dataclasses.replace(run, metrics=reported.metrics, metrics_problem=reported.problem)

    def _run_container(self, docker: Docker, image_user: str, gpu_uuids: tuple[str, ...], run_files: RunFiles) -> RunRecord:
        job = self.job
        run_env = run_environment(job.name, self.run.run_id, self.upstream)
        container = docker.create(container_spec(job, self.run.run_id, gpu_uuids, image_user, run_env=run_env, run_volumes=run_files.volumes))
        stopped = timed_out = False
        sampler = pump = None
        try:
            try:
                self._update(container_id=container.id)
                pump = threading.Thread(target=self._pump, args=(docker, docker.attach(container)), daemon=True)
                docker.start(container)
                if gpu_uuids:
                    sampler = self._sampler(container.id, gpu_uuids)
                # The output stream ends when the container exits, so joining the pump
                # is waiting for the exit: with a timeout, and (unlike a blocking HTTP
                # read) interruptible by SIGTERM.
                pump.start()
                pump.join(job.timeout)
                timed_out = pump.is_alive()
            except StopRequested:
                stopped = True
            if stopped or timed_out:
                docker.stop(container, job.stop_grace)
            docker.wait(container)
            if pump is not None and pump.is_alive():
                pump.join(timeout=5)
            state = docker.exit_state(container)
        finally:
            usage = sampler.stop() if sampler else None
            self._remove(docker, container)
        status, reason = classify(state.exit_code, state.oom_killed, timed_out, stopped, self.cuda_oom_seen)
        gpu_fields = {} if usage is None else dataclasses.asdict(usage)
        tail = None if status == Status.SUCCEEDED else "\n".join(self.log_tail)
        return _ended(self.run, status, reason, exit_code=state.exit_code, log_tail=tail, **gpu_fields)

    def _emit(self, line: str) -> None:
        # Every line is checked, not just the tail: stdout and stderr are separate
        # pipes, so the traceback on stderr can land well before stdout's last lines.
        self.cuda_oom_seen = self.cuda_oom_seen or says_cuda_oom(line)
        self.log_tail.append(line)
        self.output.write(line + "\n")
        self.output.flush()

    def _remove(self, docker: Docker, container) -> None:
        """Remove the container without hiding why the run is ending, if it is failing."""
        try:
            docker.remove(container)
        except GpuAgentError as err:
            self.log(f"{err.message}: container {container.name} is left behind; `gpuagent reap {self.job.name}` removes it")

    def _sampler(self, container_id: str, gpu_uuids: tuple[str, ...]):
        from gpuagent.run.usage import GpuUsageSampler

        sampler = GpuUsageSampler(container_id, gpu_uuids, on_visible=lambda: self.reservations.release(self.run.run_id))
        sampler.start()
        return sampler

    def _pump(self, docker: Docker, chunks) -> None:
        try:
            for line in docker.output_lines(chunks):
                self._emit(line)
        except Exception as err:  # noqa: BLE001 - the run goes on; its end is read from docker
            self.log(f"container output stopped: {err}")
