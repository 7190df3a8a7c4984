"""Notebooks and shells: sessions in a job's environment, admitted and recorded like runs.

History names a session's runs `notebook/NAME` and `shell/JOB` (runs/record.py).

A session's Job carries the settings whose row in the settings table says `session`: those
FROM_JOB (image, GPUs, limits, volumes, env, user, workdir) from a job (`--like`, or the
shell's job) with the options given over them, and those a session has of its OWN (how
long to wait for GPU memory) from the options alone. It is built as any job is
(jobs/job.py's build_job), each value read with its row's reader; the rest (schedule,
retries, notifications) are a job's alone and stay at their defaults.
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gpuagent.core.errors import InvalidInput
from gpuagent.jobs.settings import BY_FIELD, FROM_JOB, SETTINGS, Setting

if TYPE_CHECKING:  # the CLI reads SESSION_FIELDS at start-up: the Job only when one is made
    from gpuagent.jobs.job import Job


# The settings a session takes, in the table's order: the CLI makes an option of each.
SESSION_FIELDS = tuple(setting.field for setting in SETTINGS if setting.session)
# Those it takes from a job: where and with what it runs.
ENVIRONMENT_FIELDS = tuple(setting.field for setting in SETTINGS if setting.session == FROM_JOB)
# Where a session's option means other than `add`'s.
SESSION_HELP = {setting.field: setting.session_help for setting in SETTINGS if setting.session_help}
# A session waits for GPU memory only when asked to (--vram-wait): by default it fails at once.
_WAIT_FIELD = "vram_wait"


def file_form(job: "Job") -> dict[str, Any]:
    """The job's environment settings as a job file holds them."""
    held = {field: BY_FIELD[field].to_toml(getattr(job, field)) for field in ENVIRONMENT_FIELDS}
    return {field: value for field, value in held.items() if value is not None}


def session_job(
    name: str,
    given: Mapping[str, Any],
    *,
    command: tuple[str, ...],
    timeout: int | None,
    label: Callable[[Setting], str] = lambda setting: setting.option,
) -> "Job":
    """The Job a session runs: `given` maps SESSION_FIELDS to values as a job file holds
    them (file_form, then the options over it); errors name each by `label`."""
    from gpuagent.jobs.job import build_job
    from gpuagent.jobs.schedule import NO_TIMER

    unknown = set(given) - set(SESSION_FIELDS)
    if unknown:
        raise InvalidInput(f"{', '.join(sorted(unknown))}: not a setting of a notebook or shell")
    if "image" not in given:
        raise InvalidInput("--image is required", "give --image IMG, or --like JOB to take a job's")
    settled = {"command": command, "timeout": timeout, "vram_policy": "wait"}
    if _WAIT_FIELD not in given:
        settled[_WAIT_FIELD] = 0
    return build_job(name, NO_TIMER, given, label, settled=settled, started_by_hand=True)
