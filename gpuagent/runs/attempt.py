"""One attempt: one history row and at most one container, from admission to removal.

A job's run and a session (notebook or shell) go through the same steps: the image, GPU
admission and its claim, the container with the job's limits, its end, its GPU use, its
record. `SessionTerms` says what sets a session apart: its claim lasts as long as it
does, it may publish a port on the host's loopback, and a shell is followed through the
user's terminal rather than the journal.
"""

import collections
import dataclasses
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.core.quantities import format_size
from gpuagent.host.dockerd import Docker, container_spec
from gpuagent.host.historydb import STORE_ERRORS, HistoryStore
from gpuagent.host.runfiles import RunFiles
from gpuagent.jobs.job import Job
from gpuagent.jobs.settings import AUTO_VRAM
from gpuagent.observe import gpumap
from gpuagent.runs import admission
from gpuagent.runs.outcome import classify, says_cuda_oom
from gpuagent.runs.record import RunRecord, Status
from gpuagent.runs.recorder import RunRecorder
from gpuagent.runs.reservations import Reservations
from gpuagent.runs.runmetrics import Upstream, run_environment
from gpuagent.runs.vramneed import LEARN_FROM_RUNS, vram_need

LOG_TAIL_LINES = 50
VRAM_POLL_SECONDS = 2.0
WAIT_REPORT_SECONDS = 60.0

# A shell's way of following its container through the user's terminal: given the docker
# connection and the container, before its start (as `docker run -it` attaches first), it
# returns what to call once it started; that returns when the container's terminal closes.
Terminal = Callable[[Docker, object], Callable[[], None]]


class Turns(Protocol):
    """Whose turn it is when GPUs are scarce: the queue's order (queue/turns.py), so that
    a scheduled run waiting for GPU memory and the queued runs never race for a GPU.
    Asked under the admission lock, with the GPUs less others' claims."""

    def decide(self, run: RunRecord, job: Job, free: list, alone: admission.Admission, *, waiting: bool) -> admission.Admission:
        """The admission to act on: `alone` is what admission decided for this run by
        itself; the answer may refuse it for runs ahead in the queue, or choose other
        GPUs. `waiting`: the run will wait and ask again (it takes its place in the queue)."""
        ...

    def leave(self, run: RunRecord) -> None:
        """The run no longer waits (it started, gave up or was stopped)."""
        ...


class StopRequested(BaseException):
    """SIGTERM, SIGINT or SIGHUP reached the agent during a run. A BaseException, like
    KeyboardInterrupt, so no library's `except Exception` swallows it."""


class NoGpuFits(GpuAgentError):
    """Admission found no GPU with what the job needs."""


@dataclasses.dataclass(frozen=True)
class SessionTerms:
    """How a notebook's or a shell's container differs from a job run's."""

    ports: dict[int, tuple[str, int]] = dataclasses.field(default_factory=dict)  # container port -> (host address, port)
    terminal: Terminal | None = None  # a shell: a TTY, bridged to the user's terminal


def new_record(subject: str, attempt: int = 1, first: RunRecord | None = None, upstream: Upstream | None = None) -> RunRecord:
    """A run's first record: `subject` is its job, or a session's `KIND/NAME`."""
    return RunRecord(
        run_id=secrets.token_hex(6),
        job=subject,
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


def ended(run: RunRecord, status: Status, reason: str, **fields) -> RunRecord:
    return dataclasses.replace(run, status=status, reason=reason, ended_at=time.time(), **fields)


STOPPED_REASON = "stopped by a signal to gpuagent (systemctl stop, Ctrl-C)"


def attempted(
    attempt: "Attempt", job: Callable[[], tuple[Job, str | None]], recorder: RunRecorder, reword: Callable[[RunRecord], str] | None = None
) -> RunRecord:
    """Run the attempt on the job `job()` gives (with its file's hash), and record how it
    ended, whatever happens: a stop, an error gpuagent can explain, or one it cannot (then
    recorded, and raised). `reword` says the end in the words of what ran (a notebook's)."""
    try:
        run = attempt.execute(*job())
    except StopRequested:
        run = ended(attempt.run, Status.STOPPED, STOPPED_REASON)
    except GpuAgentError as err:
        run = ended(attempt.run, Status.ERROR, err.message)
    except BaseException as err:
        recorder.save_final(ended(attempt.run, Status.ERROR, f"gpuagent failed: {err!r} (see the journal)"))
        raise
    if reword is not None:
        run = dataclasses.replace(run, reason=reword(run))
    recorder.save_final(run)
    return run


@contextmanager
def signals_stop_the_run(*, hang_up: bool = False) -> Iterator[None]:
    """Turn the first SIGTERM/SIGINT (and SIGHUP, for a terminal closed under a shell)
    into StopRequested; ignore repeats, so clean-up itself is not interrupted."""
    stopping = False

    def handler(signum, frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise StopRequested

    signals = (signal.SIGTERM, signal.SIGINT, *((signal.SIGHUP,) if hang_up else ()))
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Attempt:
    """One attempt: one history row, at most one container. `run` is its latest record."""

    def __init__(
        self,
        paths: Paths,
        run: RunRecord,
        recorder: RunRecorder,
        output: TextIO,
        log: Log,
        connect: Callable[[], Docker],
        upstream: Upstream | None = None,
        session: SessionTerms | None = None,
        turns: "Turns | None" = None,
        started: Callable[[], None] | None = None,
    ) -> None:
        self.paths, self.recorder, self.output, self.log = paths, recorder, output, log
        self.connect, self.upstream, self.session, self.turns = connect, upstream, session, turns
        # called once the run is under way: its container started (what the agent does
        # while the container runs costs the run nothing: even a short one's end is still
        # ahead), or it waits for GPU memory
        self.started = started
        self.run = run
        self.recorder.save(run)
        self.reservations = Reservations(paths.runtime_dir)
        self.log_tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self.cuda_oom_seen = False
        self._claim_ended = False  # a job's: its memory showed on the GPU
        self._claim_kept: dict[str, int] | None = None  # a session's: what it claims now, by GPU

    def execute(self, job: Job, job_hash: str | None) -> RunRecord:
        self.job = self._with_vram_need(job)
        # kept in memory, written with the next update: even a run docker refuses says its image
        self.run = dataclasses.replace(self.run, image=job.image, job_hash=job_hash)
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
            return ended(self.run, Status.SKIPPED_VRAM, err.message)
        finally:
            if self.turns is not None:
                self.turns.leave(self.run)
            self.reservations.release(self.run.run_id)
            gpumap.let_go(self.paths, self.run.job, self.log)

    def _with_vram_need(self, job: Job) -> Job:
        """The job with the free memory its admission asks for, learned from its own runs
        for auto; the record says the number and where it came from (a queued run's
        dispatcher has said already)."""
        if self.run.vram_need_source is not None or not job.uses_gpu:
            return job
        peaks = []
        if job.min_free_vram == AUTO_VRAM:
            try:
                with HistoryStore(self.paths.history_db, read_only=True) as history:
                    peaks = history.recent_peaks((self.run.job,), LEARN_FROM_RUNS)
            except (*STORE_ERRORS, GpuAgentError) as err:
                self.log(f"could not read this job's past runs to learn its GPU memory need ({err}): the default stands in")
        need = vram_need(job.min_free_vram, peaks, self.run.job)
        if job.min_free_vram == AUTO_VRAM:
            self.log(f"GPU memory need {format_size(need.bytes)}: {need.source}")
        self.run = dataclasses.replace(self.run, vram_need=need.bytes, vram_need_source=need.source)
        return dataclasses.replace(job, min_free_vram=need.bytes)

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
                # A queued run's dispatcher claimed its memory already: not taken off
                free = book.unclaimed(gpus, mine=self.run.run_id)
                decision = admission.decide(free, needs, own_pids)
                if self.turns is not None:
                    decision = self.turns.decide(self.run, job, free, decision, waiting=job.vram_policy == "wait")
                if decision.admitted:
                    book.claim(self.run.run_id, decision.gpu_uuids, job.min_free_vram or 0, self.run.job, lasting=self.session is not None)
            if decision.admitted:
                held = [gpu for gpu in gpus if gpu.uuid in decision.gpu_uuids]
                names = ",".join(gpu.name or "?" for gpu in held)
                self.log(decision.reason)
                gpumap.hold(self.paths, [gpu.index for gpu in held], self.run.job, self.log)
                self._update(gpu_uuids=decision.gpu_uuids, gpu_names=names, driver_version=driver_version())
                return decision
            best_free = max([best_free, *(gpu.free_bytes for gpu in gpus if gpu.available)])
            if job.vram_policy != "wait" or time.monotonic() >= deadline:
                waited = (
                    ""
                    if job.vram_policy != "wait" or not job.vram_wait
                    else f" after waiting {job.vram_wait}s; best free seen {format_size(best_free)}"
                )
                raise NoGpuFits(decision.reason + waited)
            if time.monotonic() >= next_report:
                self.log(f"waiting for GPU memory: {decision.reason}")
                next_report = time.monotonic() + WAIT_REPORT_SECONDS
            if self.started is not None:
                self.started()
            time.sleep(VRAM_POLL_SECONDS)

    @staticmethod
    def _gpuagent_pids(docker: Docker, gpus) -> frozenset[int]:
        from gpuagent.host.procs import container_id_of_pid

        ours = docker.job_of_containers()
        return frozenset(p.pid for gpu in gpus for p in gpu.processes if container_id_of_pid(p.pid) in ours)

    # -- the container --------------------------------------------------------------

    def _contain(self, docker: Docker, image_user: str, gpu_uuids: tuple[str, ...]) -> RunRecord:
        """Run the container; the record says how it ended and what it reported (a job's
        run only: a session reports nothing)."""
        if self.session is not None:
            return self._run_container(docker, image_user, gpu_uuids, None)
        run_files = RunFiles(self.paths, self.job.name, self.run.run_id, self.upstream)
        try:
            run = self._run_container(docker, image_user, gpu_uuids, run_files)
            reported = run_files.reported()
        finally:
            run_files.remove()
        if reported.problem:
            self.log(f"run {run.run_id}: {reported.problem}")
        return dataclasses.replace(run, metrics=reported.metrics, metrics_problem=reported.problem)

    def _run_container(self, docker: Docker, image_user: str, gpu_uuids: tuple[str, ...], run_files: RunFiles | None) -> RunRecord:
        job = self.job
        session = self.session or SessionTerms()
        spec = container_spec(
            job,
            self.run.run_id,
            gpu_uuids,
            image_user,
            owner=self.run.job,
            run_env=run_environment(job.name, self.run.run_id, self.upstream) if run_files else None,
            run_volumes=run_files.volumes if run_files else None,
            ports=session.ports,
            tty=session.terminal is not None,
        )
        container = docker.create(spec)
        stopped = timed_out = False
        sampler = pump = follow_terminal = None
        try:
            try:
                self._update(container_id=container.id)
                if session.terminal is not None:
                    follow_terminal = session.terminal(docker, container)
                else:
                    pump = threading.Thread(target=self._pump, args=(docker, docker.attach(container)), daemon=True)
                docker.start(container)
                if gpu_uuids:
                    sampler = self._sampler(container.id, gpu_uuids)
                if follow_terminal is not None:
                    follow_terminal()
                else:
                    # The output stream ends when the container exits, so joining the
                    # pump is waiting for the exit: with a timeout, and (unlike a
                    # blocking HTTP read) interruptible by SIGTERM.
                    pump.start()
                    if self.started is not None:
                        self.started()
                    pump.join(job.timeout)
                    timed_out = pump.is_alive()
            except StopRequested:
                stopped = True
            if stopped or timed_out:
                if follow_terminal is not None:
                    docker.hang_up(container)  # its terminal is going: a shell exits at once
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
        return ended(self.run, status, reason, exit_code=state.exit_code, log_tail=tail, **gpu_fields)

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
            self.log(f"{err.message}: container {container.name} is left behind; `gpuagent reap {self.run.job}` removes it")

    def _sampler(self, container_id: str, gpu_uuids: tuple[str, ...]):
        from gpuagent.runs.usage import GpuUsageSampler

        on_sample = self._keep_claim if self.session is not None else self._end_claim_once_visible
        sampler = GpuUsageSampler(container_id, gpu_uuids, on_sample=on_sample)
        sampler.start()
        return sampler

    def _end_claim_once_visible(self, used: dict[str, int]) -> None:
        """A job's claim ends when its memory shows on the GPU: NVML counts it from then."""
        if any(used.values()) and not self._claim_ended:
            self._claim_ended = True
            self.reservations.release(self.run.run_id)

    def _keep_claim(self, used: dict[str, int]) -> None:
        """A session's claim is what it reserved less what it holds now, on each GPU:
        together the two are what it reserved, used yet or not."""
        reserved = self.job.min_free_vram or 0
        wanted = {uuid: max(0, reserved - used.get(uuid, 0)) for uuid in self.run.gpu_uuids}
        if wanted != self._claim_kept:
            self._claim_kept = wanted
            self.reservations.resize(self.run.run_id, wanted)

    def _pump(self, docker: Docker, chunks) -> None:
        try:
            for line in docker.output_lines(chunks):
                self._emit(line)
        except Exception as err:  # noqa: BLE001 - the run goes on; its end is read from docker
            self.log(f"container output stopped: {err}")
