"""A notebook's or a shell's one attempt, start to end: admitted, contained and recorded
as a run is (runs/attempt.py), under its own name in history (sessions/spec.py).

A notebook is served by its systemd unit (`gpuagent notebook serve NAME`): one at a time
per name, under its lock; what an agent killed outright leaves, its unit's ExecStopPost
(`gpuagent reap notebook/NAME`) reaps. A shell runs in the user's terminal, as many as
they open; its container is removed when it exits, and one whose agent was killed
outright, by the next shell of its job (or `gpuagent reap shell/JOB`).
"""

import functools
from typing import TextIO

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.paths import Paths
from gpuagent.host.dockerd import Docker
from gpuagent.host.jupyter import LOOPBACK
from gpuagent.host.locks import flocked
from gpuagent.jobs.catalog import read_job_file
from gpuagent.runs.attempt import Attempt, Log, SessionTerms, Terminal, attempted, new_record, signals_stop_the_run
from gpuagent.runs.record import RunKind, RunRecord, Status, subject
from gpuagent.runs.recorder import RunRecorder
from gpuagent.runs.runner import reap_orphans
from gpuagent.sessions.jupyterlab import CONTAINER_PORT, ending
from gpuagent.sessions.live_notebooks import read_notebook, remove_notebook
from gpuagent.sessions.reaping import reap_shells
from gpuagent.sessions.spec import file_form, session_job

# How a notebook's agent exits: a notebook that ended as notebooks do is no failure.
ENDED_AS_EXPECTED = frozenset({Status.SUCCEEDED, Status.TIMED_OUT, Status.STOPPED})
# What `gpuagent shell JOB` runs when given no command: bash where the image has it.
LOGIN_SHELL = ("/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi")


def serve_notebook(paths: Paths, name: str, output: TextIO, log: Log) -> tuple[RunRecord, int]:
    """Serve notebook `name` until it ends; its record, and the exit status for systemd
    (0 when it ended as notebooks do: idle, at its max time, or stopped)."""
    holder = subject(RunKind.NOTEBOOK, name)
    recorder = RunRecorder(paths, log)
    try:
        with flocked(paths.notebook_lock(name), wait=False) as holding, signals_stop_the_run():
            if not holding:
                raise GpuAgentError(f"notebook {name} is served already", "see `gpuagent notebook list`")
            connect = functools.cache(Docker)
            reap_orphans(paths, holder, recorder, log, connect)
            spec = read_notebook(paths, name)
            terms = SessionTerms(ports={CONTAINER_PORT: (LOOPBACK, spec.port)})
            attempt = Attempt(paths, new_record(holder), recorder, output, log, connect, session=terms)
            log(f"notebook {name}: run {attempt.run.run_id}, on {LOOPBACK}:{spec.port}")
            run = attempted(attempt, lambda: (spec.job(), None), recorder, reword=lambda run: ending(run.status, run.reason or "", spec))
    finally:
        recorder.close()
        remove_notebook(paths, name)
    log(f"notebook {name}: run {run.run_id} {run.status} ({run.reason})")
    return run, 0 if run.status in ENDED_AS_EXPECTED else 1


def open_shell(
    paths: Paths, job_name: str, command: tuple[str, ...], vram_wait: str | None, terminal: Terminal | None, output: TextIO, log: Log
) -> tuple[RunRecord, int]:
    """A shell (or `command`) in job `job_name`'s environment, its GPU admitted as the
    job's would be; `terminal` bridges it to the user's, else its output goes to `output`.
    Its record, and the exit status: the command's own."""
    job_file = read_job_file(paths.job_file(job_name))
    given = file_form(job_file.job) | ({} if vram_wait is None else {"vram_wait": vram_wait})
    job = session_job(job_name, given, command=command or LOGIN_SHELL, timeout=None)
    # a shell of this job whose agent was killed outright left its container running
    reap_shells(paths, job_name, log)
    recorder = RunRecorder(paths, log)
    try:
        with signals_stop_the_run(hang_up=True):
            attempt = Attempt(
                paths,
                new_record(subject(RunKind.SHELL, job_name)),
                recorder,
                output,
                log,
                functools.cache(Docker),
                session=SessionTerms(terminal=terminal),
            )
            run = attempted(attempt, lambda: (job, job_file.sha256), recorder)
    finally:
        recorder.close()
    if run.status in (Status.SUCCEEDED, Status.FAILED) and run.exit_code is not None:
        return run, run.exit_code
    return run, 1
