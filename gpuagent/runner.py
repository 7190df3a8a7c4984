"""One run of a job, start to end: lock, admission, container, output, record.

The history row is written before anything can fail and completed in a `finally`, and
the container is removed in a `finally`: whatever goes wrong, the run is recorded and
nothing is left behind. (An agent killed outright cannot clean up; `gpuagent reap`,
the service's ExecStopPost, does it then.)
"""

import os
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from gpuagent import admission
from gpuagent.docker_run import Docker, container_spec
from gpuagent.errors import GpuAgentError
from gpuagent.history import HistoryStore
from gpuagent.jobs import Job, load_job, validate_name
from gpuagent.locks import try_lock
from gpuagent.outcome import Status, classify
from gpuagent.paths import Paths

STOP_GRACE_SECONDS = 10


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: Status
    exit_code: int | None
    reason: str


class StopRequested(BaseException):
    """SIGTERM or SIGINT reached the agent during a run. A BaseException, like
    KeyboardInterrupt, so no library's `except Exception` swallows it."""


class NoGpuFits(GpuAgentError):
    """Admission found no GPU with the free memory the job needs."""


def new_run_id() -> str:
    return secrets.token_hex(6)


def run_job(paths: Paths, name: str, output: TextIO, log: Callable[[str], None]) -> RunOutcome:
    """Run job `name` once. `output` receives the container's lines, `log` the agent's own."""
    validate_name(name)
    run_id = new_run_id()
    with HistoryStore(paths.history_db) as store, try_lock(paths.job_lock(name)) as locked:
        store.start_run(run_id, name, os.environ.get("INVOCATION_ID"), os.getpid(), image=None)
        outcome = RunOutcome(run_id, Status.ERROR, None, "gpuagent failed unexpectedly (see the journal)")
        try:
            if not locked:
                outcome = RunOutcome(run_id, Status.SKIPPED_OVERLAP, None, "another run of this job is still going")
            else:
                with _signals_stop_the_run():
                    outcome = _Run(paths, name, run_id, store, output, log).execute()
        finally:
            store.finish_run(run_id, outcome.status, outcome.exit_code, outcome.reason)
    log(f"run {run_id} of {name}: {outcome.status} ({outcome.reason})")
    return outcome


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


class _Run:
    def __init__(self, paths: Paths, name: str, run_id: str, store: HistoryStore, output: TextIO, log) -> None:
        self.paths, self.name, self.run_id, self.store = paths, name, run_id, store
        self.output, self.log = output, log

    def execute(self) -> RunOutcome:
        try:
            job = load_job(self.paths.job_file(self.name))
            self.store.update_run(self.run_id, image=job.image)
            gpu_uuids = self._admit(job) if job.uses_gpu else ()
            return self._contain(job, gpu_uuids)
        except StopRequested:
            return self._outcome(*classify(None, False, False, stopped=True))
        except NoGpuFits as err:
            return self._outcome(Status.SKIPPED_VRAM, err.message)
        except GpuAgentError as err:
            return self._outcome(Status.ERROR, err.message)

    def _outcome(self, status: Status, reason: str, exit_code: int | None = None) -> RunOutcome:
        return RunOutcome(self.run_id, status, exit_code, reason)

    def _admit(self, job: Job) -> tuple[str, ...]:
        from gpuagent.gpu import read_gpus

        decision = admission.decide(read_gpus(), job.gpus, job.min_free_vram, job.gpu_ids)
        if not decision.admitted:
            raise NoGpuFits(decision.reason)
        self.log(decision.reason)
        self.store.update_run(self.run_id, gpu_uuids=decision.gpu_uuids)
        return decision.gpu_uuids

    def _contain(self, job: Job, gpu_uuids: tuple[str, ...]) -> RunOutcome:
        docker = Docker()
        spec = container_spec(job, self.run_id, gpu_uuids, docker.image_user(job.image))
        container = docker.create(spec)
        stopped = timed_out = False
        pump = threading.Thread(target=self._pump, args=(docker, container), daemon=True)
        try:
            try:
                self.store.update_run(self.run_id, container_id=container.id)
                docker.start(container)
                # The output stream ends when the container exits, so joining the pump
                # is waiting for the exit: with a timeout, and (unlike a blocking HTTP
                # read) interruptible by SIGTERM.
                pump.start()
                pump.join(job.timeout)
                timed_out = pump.is_alive()
            except StopRequested:
                stopped = True
            if stopped or timed_out:
                docker.stop(container, STOP_GRACE_SECONDS)
            docker.wait(container)
            if pump.is_alive():
                pump.join(timeout=5)
            state = docker.exit_state(container)
        finally:
            docker.remove(container)
        status, reason = classify(state.exit_code, state.oom_killed, timed_out, stopped)
        return self._outcome(status, reason, state.exit_code)

    def _pump(self, docker: Docker, container) -> None:
        try:
            for line in docker.output_lines(container):
                self.output.write(line + "\n")
                self.output.flush()
        except Exception as err:  # noqa: BLE001 - the run goes on; its end is read from docker
            self.log(f"container output stopped: {err}")
