"""A job: what to run, on which schedule, with which limits; built from the settings table.

The Job's fields are the rows of jobs/settings.py, plus its name and schedule. A job is
built from what the command line gave (`job_from_options`), from what a job file holds
(jobs/jobfile.py) or for a notebook or shell (sessions/spec.py); each reads every value
with its row's reader, then checks the settings against each other here. Nothing here
looks at the host.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gpuagent.core import values
from gpuagent.core.errors import InvalidInput
from gpuagent.core.values import Volume
from gpuagent.jobs.schedule import Schedule
from gpuagent.jobs.settings import BY_FIELD, SETTINGS, Setting, VramPolicy


@dataclass(frozen=True)
class Job:
    """A validated job: its name, its schedule and one field per row of jobs/settings.py,
    in the table's order, each typed as its row's reader returns it. Written out so that a
    reader and a type checker can follow `job.shm_size`; tests/unit/test_jobs.py fails when
    it and the table part. No field has a default: the table holds them, and build_job,
    the one way to make a Job, fills in every field."""

    name: str
    schedule: Schedule
    image: str
    command: tuple[str, ...]
    persistent: bool
    random_delay: int | None  # seconds
    after: str | None  # the job whose successes start this one
    enabled: bool  # False: its timer stays off and its upstream's successes do not start it
    gpus: int  # 0: a CPU job
    gpu_ids: tuple[str, ...]  # indexes or UUIDs; empty: any
    min_free_vram: int | Literal["auto"] | None  # bytes; auto: learned from history (runs/vramneed.py)
    memory: int | None  # bytes
    cpus: float | None  # cores
    shm_size: int | None  # bytes
    vram_policy: VramPolicy
    vram_wait: int  # seconds
    max_gpu_util: int | None  # percent
    exclusive: bool
    priority: int  # the queue's order, higher first
    preempt: bool  # may stop lower-priority queued runs to take their GPUs
    volumes: tuple[Volume, ...]
    env: tuple[tuple[str, str], ...]  # (KEY, value), in the order given
    env_file: str | None
    workdir: str | None
    user: str | None  # None: the image's user, or nobody for root (host/dockerd.py)
    timeout: int | None  # seconds
    stop_grace: int  # seconds
    retries: int
    retry_delay: int  # seconds

    @property
    def uses_gpu(self) -> bool:
        return self.gpus > 0

    @property
    def when(self) -> str:
        """When the job runs, in words: its schedule, and the job whose successes start it:
        'daily at 02:00', 'after train', 'Sun at 03:00, and after train'."""
        if self.after is None:
            return self.schedule.describe()
        if not self.schedule.has_timer:
            return f"after {self.after}"
        return f"{self.schedule.describe()}, and after {self.after}"


def given_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options given on the command line (`options` maps Job fields to their values,
    None or [] when not given), as a job file holds them."""
    given = {}
    for field, value in options.items():
        setting = BY_FIELD[field]
        if value is None or value == []:
            continue
        given[field] = setting.from_cli(value, setting.option) if setting.from_cli else value
    return given


def options_over(job_settings: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """A job's settings as a job file holds them, with the options given over them (what
    a notebook, a shell or a submit --like JOB runs): a value given replaces the job's;
    `-e` adds to the job's env (a key given wins), and `-v` to its volumes (one at a
    container path the job mounts replaces the job's)."""
    merged = {**job_settings, **options}
    if "env" in options:
        merged["env"] = {**job_settings.get("env", {}), **options["env"]}
    if "volumes" in options:
        given = {_mount_point(volume) for volume in options["volumes"]}
        merged["volumes"] = [volume for volume in job_settings.get("volumes", []) if _mount_point(volume) not in given] + list(options["volumes"])
    return merged


def _mount_point(volume: str) -> str:
    """HOST:CONTAINER[:ro] -> CONTAINER (checked later, by the volume's reader)."""
    return volume.split(":")[1] if volume.count(":") >= 1 else volume


def job_from_options(name: str, schedule: Schedule, options: Mapping[str, Any]) -> Job:
    """The job `gpuagent add` describes: `options` maps Job fields to the options' values
    (None: not given); errors name the option."""
    return build_job(name, schedule, given_options(options), lambda setting: setting.option)


def build_job(
    name: str,
    schedule: Schedule,
    given: Mapping[str, Any],
    label: Callable[[Setting], str],
    *,
    settled: Mapping[str, Any] | None = None,
    started_by_hand: bool = False,
) -> Job:
    """Read each setting in `given` (Job field -> its value as the job file holds it) with
    its row's reader, take those in `settled` as they are (values gpuagent sets itself, not
    a person: a session's command and time limit), default the others, and check them
    together. `label` names a setting in errors: its option, or its key. A job is started
    by its schedule or by another's success (--after); one `started_by_hand` (a notebook or
    a shell) needs neither."""
    values.parse_name(name)
    settled = settled or {}
    settings = {}
    for setting in SETTINGS:
        if setting.field in settled:
            settings[setting.field] = settled[setting.field]
        elif setting.field in given:
            settings[setting.field] = setting.read(given[setting.field], label(setting))
        elif setting.required:
            raise InvalidInput(f"{label(setting)} is required", f"e.g. {setting.example()}")
        else:
            settings[setting.field] = setting.default
    gpu_ids = settings["gpu_ids"]
    if settings["gpus"] is None:
        settings["gpus"] = len(gpu_ids)
    check_together(settings, label)
    if not started_by_hand and not schedule.has_timer and settings["after"] is None:
        on_cli = label(BY_FIELD["after"]).startswith("--")
        raise InvalidInput(
            "the job has no schedule: give one of --at, --on, --every, --cron, or --after JOB"
            if on_cli
            else "schedule: give one of at, on, every, cron, or after",
            "for example --at 02:00 (daily), --on 'Sun 03:00', --every 6h, --cron '0 2 * * 1-5', or --after nightly (each time nightly succeeds)"
            if on_cli
            else 'e.g. at = "02:00", or after = "nightly"',
        )
    return Job(name=name, schedule=schedule, **settings)


def check_together(settings: dict[str, Any], label: Callable[[Setting], str]) -> None:
    def named(field: str) -> str:
        return label(BY_FIELD[field])

    gpus, gpu_ids = settings["gpus"], settings["gpu_ids"]
    if gpu_ids and gpus == 0:
        raise InvalidInput(f"{named('gpu_ids')} names GPUs for a CPU job ({named('gpus')} 0)", f"drop {named('gpus')} 0, or {named('gpu_ids')}")
    if gpu_ids and gpus > len(gpu_ids):
        raise InvalidInput(f"{named('gpus')} {gpus} asks for more GPUs than the {len(gpu_ids)} named with {named('gpu_ids')}")
    if not gpus and settings["min_free_vram"] is not None:
        raise InvalidInput(f"{named('min_free_vram')} needs a GPU job", f"add {named('gpus')} N or {named('gpu_ids')} ID")
