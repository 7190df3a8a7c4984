"""gpuagent reap: remove containers of a job that outlived their agent.

A container lives in dockerd's cgroup, not the service's, so an agent killed outright
leaves it running. The service's ExecStopPost calls this. A run still held by a live
agent (the job lock is taken) is left alone.
"""

from gpuagent.docker_run import Docker
from gpuagent.jobs import validate_name
from gpuagent.locks import try_lock
from gpuagent.paths import Paths
from gpuagent.runner import STOP_GRACE_SECONDS


def reap_job(paths: Paths, name: str) -> list[str]:
    """Returns the names of the containers removed."""
    validate_name(name)
    with try_lock(paths.job_lock(name)) as free:
        if not free:
            return []
        docker = Docker()
        reaped = []
        for container in docker.job_containers(name):
            docker.stop(container, STOP_GRACE_SECONDS)
            docker.remove(container)
            reaped.append(container.name)
        return reaped
