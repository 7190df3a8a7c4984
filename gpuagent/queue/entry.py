"""A run submitted to the queue, as the queue keeps it from its submit to its end.

A submitted run takes the settings whose rows a run can use without a timer (SUBMIT_FIELDS,
from the settings table): what it runs and with what, its limits, its GPU needs, its
priority. A queued run waits by being in the queue, so the rows that say how a run waits
for GPU memory (vram_policy, vram_wait) and those of a schedule are a scheduled job's
alone. Its settings are kept as a job file holds them and read again with the rows'
readers when it starts (entry_job), so a submitted run is held to every rule a job is.
"""

import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from gpuagent.jobs.settings import BY_FIELD, SETTINGS
from gpuagent.runs.record import RunKind, subject

if TYPE_CHECKING:  # the CLI reads SUBMIT_FIELDS at start-up: the Job only when one is made
    from gpuagent.jobs.job import Job

# What a queued run does not take: how a scheduled run waits (a queued one waits in the
# queue) and when it runs (now, or when a GPU frees).
_NOT_QUEUED = frozenset({"vram_policy", "vram_wait"})
SUBMIT_FIELDS = tuple(setting.field for setting in SETTINGS if setting.section != "schedule" and setting.field not in _NOT_QUEUED)


class EntryState(StrEnum):
    WAITING = "waiting"  # for its turn and a GPU that fits
    STARTING = "starting"  # a dispatcher gave it GPUs and started its unit
    RUNNING = "running"  # its agent has it


@dataclasses.dataclass(frozen=True)
class QueueEntry:
    id: str  # the run id its run has in history
    name: str  # its name: history calls its runs queue/NAME
    submitter: str  # the user who submitted it (the one behind sudo)
    submitted_at: float
    order_at: float  # its place among its priority's entries: its submit time, or earlier when preempted
    priority: int
    settings: dict[str, Any]  # SUBMIT_FIELDS as a job file holds them
    gpus: int
    gpu_ids: tuple[str, ...]
    min_free_vram: int | str | None  # bytes, or auto
    max_gpu_util: int | None
    exclusive: bool
    learn_from: tuple[str, ...]  # the history names whose runs teach an auto need
    dedupe_key: str | None
    group_id: str | None  # its sweep
    params: dict[str, str] | None  # its sweep values
    state: EntryState
    state_at: float  # when it entered its state
    gpu_uuids: tuple[str, ...] = ()  # the GPUs a dispatcher gave it
    agent_pid: int | None = None
    # A job's run that waits for GPU memory in its own agent (queue/turns.py): it takes its
    # place in the order, and its agent, not a dispatcher, starts it.
    scheduled: bool = False
    preempt: bool = False  # may stop lower-priority running entries (queue/preemption.py)
    preempted_at: float | None = None  # when it was last preempted
    preemptions: int = 0  # how many times

    @property
    def subject(self) -> str:
        """Its name in history and on its container."""
        return self.name if self.scheduled else subject(RunKind.QUEUED, self.name)

    @property
    def waiting(self) -> bool:
        return self.state == EntryState.WAITING

    def run_fields(self) -> dict[str, Any]:
        """What each record of its runs says of the queue: who submitted it, its sweep."""
        return {"submitter": self.submitter, "group_id": self.group_id, "params": self.params}


def submit_form(job: "Job") -> dict[str, Any]:
    """A job's SUBMIT_FIELDS as a job file holds them: what `--like JOB` takes."""
    held = {field: BY_FIELD[field].to_toml(getattr(job, field)) for field in SUBMIT_FIELDS}
    return {field: value for field, value in held.items() if value is not None}


def entry_job(name: str, settings: Mapping[str, Any]) -> "Job":
    """The Job a queued run runs, each setting read with its row's reader (errors name
    its option); it waits in the queue, never in its agent."""
    from gpuagent.jobs.job import build_job
    from gpuagent.jobs.schedule import NO_TIMER

    return build_job(name, NO_TIMER, settings, lambda setting: setting.option, settled={"vram_policy": "skip", "vram_wait": 0}, started_by_hand=True)
