"""How a job maps to a cluster's scheduler: what each engine's table says, and what the
two engines' builders share.

Each engine holds its own table (export/slurm.py, export/kubernetes.py): for the job's
name, its schedule and each row of jobs/settings.py (by field), a Mapping that says how
well it fits there (the job file reference's table of what maps exactly, approximately
or not at all is made from them), what it becomes, in words, and the builder's method that puts a
job's value in. A setting that does not map at all has no method: a job that sets it (to
other than its default) is refused, naming it. The name and the schedule have no method
either: the exporter maps them itself (export/exporter.py). tests/unit/test_export.py
fails when an engine's table misses a setting, or maps one that is not.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration, mebibytes
from gpuagent.core.values import printable
from gpuagent.export.gpucheck import NO_FIT, GpuCheck
from gpuagent.jobs.settings import AUTO_VRAM, DEFAULT_PRIORITY

EXACT = "exact"
APPROXIMATE = "approximate"
NOT_AT_ALL = "not at all"
ENGINES = {"slurm": "Slurm", "kubernetes": "Kubernetes"}

EngineBuilder = TypeVar("EngineBuilder", bound="Builder")


def comment(text: str) -> str:
    """`text` as one comment line of a generated file ('# ' before it): refused when it
    holds a control character, which would end the comment and start a line of its own
    (a path with a newline becoming a command or an #SCRON line)."""
    return f"# {printable(text, 'a comment line')}"


@dataclass(frozen=True)
class Mapping(Generic[EngineBuilder]):
    fit: str  # EXACT, APPROXIMATE or NOT_AT_ALL: how well it can map, for the reference
    becomes: str  # what it becomes there, in the reference's words
    # the engine builder's method that takes the job's value; None: NOT_AT_ALL, or the name
    # and the schedule, which the exporter maps
    apply: Callable[[EngineBuilder, Any], None] | None = None
    instead: str = ""  # NOT_AT_ALL: what to do instead, the refusal's hint


@dataclass
class Notes:
    """What an export says on stderr: each setting that maps only approximately, and how.
    `setting` is the job file key of the row being applied, e.g. resources.min_free_vram."""

    setting: str = ""
    lines: list[str] = field(default_factory=list)

    def approximately(self, words: str) -> None:
        line = f"{self.setting}: {words}"
        if line not in self.lines:
            self.lines.append(line)

    def refuse(self, problem: str, hint: str) -> None:
        raise InvalidInput(f"{self.setting}: {problem}", hint)


@dataclass
class Builder:
    """What both engines do alike: the GPU check in place of admission (export/gpucheck.py),
    and the settings no scheduler has, said as notes. `holds_gpus` names, in the engine's
    words, what waits while the job sleeps."""

    name: str
    notes: Notes = field(default_factory=Notes)
    check: GpuCheck = field(default_factory=GpuCheck)
    random_delay: int | None = None
    holds_gpus = "the job"
    free_vram_words = "checked with nvidia-smi before the command"
    priority_words = "set the scheduler's own"

    @property
    def most_before_command(self) -> int:
        """The longest the job can spend before its command (the GPU check, the random
        sleep): what its time limit must leave room for."""
        return self.check.most_seconds + (self.random_delay or 0)

    def set_random_delay(self, seconds: int | None) -> None:
        if seconds:
            self.random_delay = seconds
            self.notes.approximately(f"a random sleep of up to {format_duration(seconds)} before the command, while {self.holds_gpus} holds its GPUs")

    def set_enabled(self, flag: bool) -> None:
        if not flag:
            self.notes.approximately("the job is disabled on this host, the export is not: hold it in the cluster until it should run")

    def set_gpu_ids(self, ids: tuple[str, ...]) -> None:
        if ids:
            self.notes.approximately(f"the scheduler picks the GPUs: the list {', '.join(ids)} is not kept")

    def set_min_free_vram(self, size: int | str | None) -> None:
        if size == AUTO_VRAM:
            self.notes.refuse(
                "auto is learned from this host's run history, which a cluster does not have",
                "give a size (--min-free-vram 20GiB): `gpuagent history JOB --json` shows the peak_vram_bytes of its runs",
            )
        if size is not None:
            self.check.min_free_mib = mebibytes(size)
            self.notes.approximately(
                f"no scheduler places a job on free GPU memory: {self.free_vram_words}; when they lack it, the job exits {NO_FIT} (--vram-policy)"
            )

    def set_priority(self, priority: int) -> None:
        if priority != DEFAULT_PRIORITY:
            self.notes.approximately(f"the scheduler orders jobs by its own rules: priority {priority} is not kept ({self.priority_words})")

    def set_preempt(self, flag: bool) -> None:
        if flag:
            self.notes.approximately(f"preemption is the scheduler's own policy: --preempt is not kept ({self.priority_words})")

    def set_max_gpu_util(self, percent: int | None) -> None:
        if percent is not None:
            self.check.max_util = percent
            self.notes.approximately(f"checked with nvidia-smi before the command; a busier GPU makes the job exit {NO_FIT} (--vram-policy)")

    def set_vram_policy(self, policy: str) -> None:
        self.check.policy = policy

    def set_vram_wait(self, seconds: int) -> None:
        self.check.wait_seconds = seconds

    def set_exclusive(self, flag: bool) -> None:
        if flag:
            self.notes.approximately("a GPU the scheduler gives is the job's alone among its jobs; processes started outside it are not seen")
