"""gpuagent reap: clean up after a run whose agent died.

A container lives in dockerd's cgroup, not the service's, so an agent killed outright
leaves it running, and leaves its history row `running`. The service's ExecStopPost
calls this: it removes the job's containers and marks such rows `lost`. A run still held
by a live agent (the job lock is taken) is left alone.
"""

from collections.abc import Callable

from gpuagent.host.locks import flocked
from gpuagent.model.values import parse_name
from gpuagent.paths import Paths
from gpuagent.run.recorder import RunRecorder
from gpuagent.run.runner import reap_orphans


def reap_job(paths: Paths, name: str, log: Callable[[str], None]) -> list[str]:
    """Returns the names of the containers removed."""
    parse_name(name)
    with flocked(paths.job_lock(name), wait=False) as free:
        if not free:
            return []
        recorder = RunRecorder(paths, log)
        try:
            return reap_orphans(paths, name, recorder, log)
        finally:
            recorder.close()
