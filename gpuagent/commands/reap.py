"""gpuagent reap: what systemd starts after a run's service stops (the template's
ExecStopPost), to remove what an agent killed outright left (sessions/reaping.py), and
to start the job once more if its upstream succeeded while it ran (runs/followers.py)."""

import os
from collections.abc import Mapping

from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.runs.followers import start_pending
from gpuagent.sessions.reaping import agent_ended_itself, reap_job


def reap_after_stop(paths: Paths, name: str, log: Log, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The containers removed. systemd says in $SERVICE_RESULT how the service ended:
    an agent that exited by itself left nothing, and is not reaped (by hand, none is set,
    and no pending start is made: the service may be running)."""
    try:
        if agent_ended_itself(environ.get("SERVICE_RESULT")):
            return []
        return reap_job(paths, name, log)
    finally:
        if "SERVICE_RESULT" in environ:
            start_pending(paths, name, log)
