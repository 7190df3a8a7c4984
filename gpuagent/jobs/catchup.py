"""Whether a run is its timer's catch-up of a fire missed while the host was down.

A `Persistent=` timer fires at once when it starts after a boot if its schedule elapsed
while the host was off; systemd tells the service nothing of it. The run asks: did the
timer fire it just now, early in this boot, and did no scheduled time fall between the
boot and that fire? Then the fire was for a time before the boot: a catch-up.

Only a calendar job that catches up (`persistent`) started within CATCH_UP_WINDOW of a
boot (plus its random delay) pays for the question: one `systemctl show` and one
`systemd-analyze calendar`. A catch-up after a timer was off for another reason (disabled,
then enabled) is not told apart from a fire on time.
"""

import time
from datetime import UTC, datetime

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host.boots import current_boot
from gpuagent.host.calendar import next_elapses
from gpuagent.host.systemd import Systemd, timer_unit_name
from gpuagent.jobs.job import Job

# systemd fires a catch-up as its timer starts at boot (timers.target), then RandomizedDelaySec.
CATCH_UP_WINDOW = 300  # seconds after the boot
# The timer started this run if it fired this recently (a run started by hand is not a catch-up).
TRIGGERED_NOW = 60  # seconds; systemctl shows the last trigger to the second


def caught_up(booted_at: float, last_trigger: float | None, first_due: float | None, now: float) -> bool:
    """Whether the timer's fire at `last_trigger` (epoch seconds) started the run now and
    was for a time before the boot at `booted_at`: no scheduled time (the first after the
    boot is `first_due`) fell between the boot and the fire."""
    if last_trigger is None or not booted_at - 1 <= last_trigger <= now + 1 or now - last_trigger > TRIGGERED_NOW:
        return False
    return first_due is None or first_due > last_trigger


def is_catch_up(paths: Paths, job: Job, log: Log) -> bool:
    if not (job.schedule.on_calendar and job.persistent):
        return False
    try:
        boot = current_boot()
        now = time.time()
        if now - boot.started_at > CATCH_UP_WINDOW + (job.random_delay or 0):
            return False
        timer = timer_unit_name(job.name)
        fired = Systemd(paths.user_mode).timer_states([timer])[timer].last_trigger
        due = next_elapses(job.schedule, 1, after=datetime.fromtimestamp(boot.started_at, UTC))
    except (GpuAgentError, OSError) as err:
        log(f"cannot tell whether the timer fired this run late, for a time the host was down: {getattr(err, 'message', err)}")
        return False
    return caught_up(boot.started_at, fired.timestamp() if fired else None, due[0].timestamp() if due else None, now)
