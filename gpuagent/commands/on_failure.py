"""gpuagent on-failure: what systemd starts when a run's service fails (the template's
OnFailure=gpuagent-on-failure@%i.service).

An agent that ends by itself (failed, timed out, stopped...) records its run and notifies
before it exits. One killed outright (SIGKILL, the kernel's OOM killer) can do neither:
this reaps what it left, as `gpuagent reap` does, then notifies `lost` for a run of the
failed invocation that did not record its own end, and nothing for one that notified.
"""

from dataclasses import dataclass

from gpuagent.commands.common import reap_job
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths


@dataclass(frozen=True)
class FailureHandled:
    reaped: list[str]  # the containers removed
    announced: int  # what announce_lost returned: the lost runs notified


def handle_failure(paths: Paths, name: str, invocation_id: str | None, log: Log, *, reap: bool = True) -> FailureHandled:
    """`invocation_id`: the failed service's ($MONITOR_INVOCATION_ID); None where systemd
    did not say (started by hand, or by a unit other than the template). `reap`: False
    when systemd says the agent exited by itself, having removed its container."""
    from gpuagent.observe.announce import announce_lost

    reaped = reap_job(paths, name, log) if reap else []
    # Outside the lock: a live agent holding it runs another invocation, and the failed
    # one's record is final either way (marked lost by this reap, the service's, or the
    # live agent's own at its start).
    return FailureHandled(reaped, announce_lost(paths, name, invocation_id, log))
