"""gpuagent on-failure: what systemd starts when a run's service fails (the template's
OnFailure=gpuagent-on-failure@%i.service).

An agent that ends by itself (failed, timed out, stopped...) records its run and notifies
before it exits. One killed outright (SIGKILL, the kernel's OOM killer) can do neither:
this reaps what it left, as `gpuagent reap` does, then notifies `lost` for a run of the
failed invocation that did not record its own end, and nothing for one that notified.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.observe import announce
from gpuagent.sessions.reaping import agent_ended_itself, reap_job


@dataclass(frozen=True)
class FailureHandled:
    result: str | None  # how the service ended, as systemd said; None: it did not say
    invocation_id: str | None  # the failed service's; None: systemd did not say
    reaped: list[str]  # the containers removed
    announced: int  # what announce_lost returned: the lost runs notified


def handle_failure(paths: Paths, name: str, log: Log, environ: Mapping[str, str] = os.environ) -> FailureHandled:
    """systemd sets $MONITOR_SERVICE_RESULT and $MONITOR_INVOCATION_ID only for a handler
    one unit points at; started by hand, or by a unit other than the template, neither
    is set: then it reaps, and asks about no invocation in particular. An agent that
    exited by itself removed its container: nothing to reap."""
    result = environ.get("MONITOR_SERVICE_RESULT") or None
    invocation_id = environ.get("MONITOR_INVOCATION_ID") or None
    reaped = [] if agent_ended_itself(result) else reap_job(paths, name, log)
    # Outside the lock: a live agent holding it runs another invocation, and the failed
    # one's record is final either way (marked lost by this reap, the service's, or the
    # live agent's own at its start).
    return FailureHandled(result, invocation_id, reaped, announce.announce_lost(paths, name, invocation_id, log))
