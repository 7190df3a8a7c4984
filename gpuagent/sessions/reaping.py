"""The reap of what a dead agent left: a job's or a notebook's containers, its `running`
history rows, and a notebook's file. A container lives in dockerd's cgroup, not the
service's, so an agent killed outright leaves it running, and leaves its history row
`running`: the service's ExecStopPost (`gpuagent reap`) and its failure handler
(`gpuagent on-failure`) reap.

It lives with sessions, not runs, because it reaps both kinds of subject: a job's runs
and a notebook's (named `notebook/NAME`)."""

from gpuagent.core.errors import InvalidInput
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host.locks import flocked
from gpuagent.runs.record import RunKind, kind_of, parse_subject
from gpuagent.runs.recorder import RunRecorder
from gpuagent.runs.runner import reap_orphans
from gpuagent.sessions.live_notebooks import remove_notebook

# How systemd says the service ended, to its ExecStopPost ($SERVICE_RESULT) and to its
# failure handler ($MONITOR_SERVICE_RESULT): these two mean `gpuagent run` exited by
# itself (0, or an exit code it chose), after removing its container and recording its
# run, so the reap has nothing to do and skips docker's import and API calls. A signal,
# core dump, timeout or watchdog means it may not have: reap then.
AGENT_ENDED_ITSELF = frozenset({"success", "exit-code"})


def agent_ended_itself(service_result: str | None) -> bool:
    """Whether systemd's word for how the service ended says the agent exited by itself."""
    return service_result in AGENT_ENDED_ITSELF


def reap_job(paths: Paths, name: str, log: Log) -> list[str]:
    """Clean up after a run whose agent died: remove the job's (or notebook's, named
    `notebook/NAME`) containers and mark its `running` rows lost, unless a live agent
    holds its lock (then its run is going, and nothing is touched). Returns the names of
    the containers removed."""
    kind = kind_of(parse_subject(name))
    if kind == RunKind.SHELL:
        raise InvalidInput(f"{name}: a shell's container is removed when it exits; only jobs and notebooks are reaped")
    notebook = name.partition("/")[2] if kind == RunKind.NOTEBOOK else None
    lock = paths.notebook_lock(notebook) if notebook else paths.job_lock(name)
    with flocked(lock, wait=False) as free:
        if not free:
            return []
        recorder = RunRecorder(paths, log)
        try:
            return reap_orphans(paths, name, recorder, log)
        finally:
            recorder.close()
            if notebook:
                remove_notebook(paths, notebook)
