"""A job: what to run, on which schedule, with which limits.

A job lives in one TOML file, `jobs/NAME.toml`, read at every run. The file stores each
setting in the same spelling as the `gpuagent add` option that set it, and both go through
the same parsers here, so a hand-edited file is held to exactly the rules of the CLI.
"""

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gpuagent.errors import InvalidInput
from gpuagent.model import schedule as schedules
from gpuagent.model.sizes import format_size, parse_size

SCHEMA_VERSION = 1
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
_GPU_ID = re.compile(r"^(\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-zA-Z/-]+)$")
# docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest]
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_COMPONENT = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)"
_IMAGE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run")
VRAM_POLICIES = ("wait", "skip", "fail")
DEFAULT_VRAM_WAIT = 30 * 60
DEFAULT_STOP_GRACE = 10
DEFAULT_RETRY_DELAY = 60
# The template service gives the agent TimeoutStopSec=300 to stop its container and
# record the run; the grace must fit inside it with room to spare.
MAX_STOP_GRACE = 240
MAX_RETRIES = 10


@dataclass(frozen=True)
class Volume:
    host: str
    container: str
    read_only: bool

    def spec(self) -> str:
        return f"{self.host}:{self.container}" + (":ro" if self.read_only else "")


@dataclass(frozen=True)
class Job:
    name: str
    schedule: schedules.Schedule
    image: str
    command: tuple[str, ...]
    gpus: int = 0
    gpu_ids: tuple[str, ...] = ()
    min_free_vram: int | None = None
    memory: int | None = None
    cpus: float | None = None
    shm_size: int | None = None
    volumes: tuple[Volume, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    env_file: str | None = None
    workdir: str | None = None
    user: str | None = None
    timeout: int | None = None
    persistent: bool = True
    random_delay: int | None = None
    vram_policy: str = "wait"
    vram_wait: int = DEFAULT_VRAM_WAIT
    max_gpu_util: int | None = None
    exclusive: bool = False
    stop_grace: int = DEFAULT_STOP_GRACE
    retries: int = 0
    retry_delay: int = DEFAULT_RETRY_DELAY

    @property
    def uses_gpu(self) -> bool:
        return self.gpus > 0


@dataclass
class JobOptions:
    """The job's settings as text, as given on the command line or found in the TOML file."""

    image: str
    command: list[str]
    gpus: int | None = None
    gpu_ids: list[str] = field(default_factory=list)
    min_free_vram: str | None = None
    memory: str | None = None
    cpus: float | None = None
    shm_size: str | None = None
    volumes: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    env_file: str | None = None
    workdir: str | None = None
    user: str | None = None
    timeout: str | None = None
    persistent: bool = True
    random_delay: str | None = None
    vram_policy: str = "wait"
    vram_wait: str | None = None
    max_gpu_util: int | None = None
    exclusive: bool = False
    stop_grace: str | None = None
    retries: int = 0
    retry_delay: str | None = None


def validate_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise InvalidInput(
            f"invalid job name {name!r}",
            "use 1-63 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit",
        )
    return name


def parse_image(text: str) -> str:
    if len(text) > 255 or not _IMAGE.match(text):
        raise InvalidInput(
            f"--image: {text!r} is not a valid image reference",
            "write it as docker does: [registry/]repository[:tag][@sha256:digest], e.g. pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime",
        )
    return text


def parse_volume(text: str) -> Volume:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise InvalidInput(f"-v: cannot read volume {text!r}", "write HOST:CONTAINER or HOST:CONTAINER:ro")
    host, container, *mode = parts
    if mode and mode[0] not in ("ro", "rw"):
        raise InvalidInput(f"-v {text}: unknown mode {mode[0]!r}", "the mode is ro (read-only) or rw")
    if not os.path.isabs(host):
        raise InvalidInput(f"-v {text}: host path {host!r} is relative", "give an absolute host path, e.g. /data")
    if not os.path.isabs(container):
        raise InvalidInput(f"-v {text}: container path {container!r} is relative", "give an absolute container path, e.g. /data")
    host = os.path.normpath(host)
    if host in DOCKER_SOCKETS:
        raise InvalidInput(
            f"-v {text}: mounting {host} would hand the job the docker socket (root on this host)",
            "mount only the data and checkpoint directories the job needs",
        )
    return Volume(host=host, container=os.path.normpath(container), read_only=bool(mode) and mode[0] == "ro")


def parse_env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not _ENV_KEY.match(key):
        raise InvalidInput(
            f"-e: {text!r} is not KEY=VALUE with an identifier as KEY",
            "keys are letters, digits and '_', not starting with a digit, e.g. -e BATCH_SIZE=64",
        )
    if "\n" in value or "\r" in value or "\0" in value:
        raise InvalidInput(f"-e {key}: the value holds a newline or NUL", "pass multi-line values through --env-file")
    return key, value


def parse_cpus(value: float) -> float:
    if value <= 0:
        raise InvalidInput(f"--cpus must be greater than zero, got {value}")
    return value


def parse_abs_path(text: str, option: str) -> str:
    if not os.path.isabs(text):
        raise InvalidInput(f"{option}: {text!r} is relative", "give an absolute path inside the container, e.g. /workspace")
    return text


def parse_user(text: str) -> str:
    if not _USER.match(text):
        raise InvalidInput(f"--user: cannot read {text!r}", "write UID[:GID] (e.g. 1000:1000) or a user name from the image")
    return text


def parse_gpu_ids(ids: list[str]) -> tuple[str, ...]:
    for gpu in ids:
        if not _GPU_ID.match(gpu):
            raise InvalidInput(f"--gpu: {gpu!r} is neither a GPU index nor a UUID", "see `nvidia-smi -L` for indexes and UUIDs")
    return tuple(ids)


def build_job(name: str, schedule: schedules.Schedule, options: JobOptions) -> Job:
    """Validate every option and return the Job; raises InvalidInput on the first bad one."""
    validate_name(name)
    if not options.command:
        raise InvalidInput("no command given", "put the command after --, e.g. gpuagent add NAME ... -- python train.py")
    gpu_ids = parse_gpu_ids(options.gpu_ids)
    gpus = len(gpu_ids) if options.gpus is None else options.gpus
    if gpus < 0:
        raise InvalidInput(f"--gpus must be 0 or more, got {gpus}")
    if gpu_ids and gpus > len(gpu_ids):
        raise InvalidInput(f"--gpus {gpus} asks for more GPUs than the {len(gpu_ids)} named with --gpu")
    if options.min_free_vram is not None and not gpus:
        raise InvalidInput("--min-free-vram needs a GPU job", "add --gpus N or --gpu ID")
    if options.vram_policy not in VRAM_POLICIES:
        raise InvalidInput(f"--vram-policy: {options.vram_policy!r} is not one of {', '.join(VRAM_POLICIES)}")
    if options.max_gpu_util is not None and not 0 <= options.max_gpu_util <= 100:
        raise InvalidInput(f"--max-gpu-util is a percentage 0-100, got {options.max_gpu_util}")
    if not 0 <= options.retries <= MAX_RETRIES:
        raise InvalidInput(f"--retries must be 0 to {MAX_RETRIES}, got {options.retries}")
    stop_grace = _optional(schedules.parse_duration, options.stop_grace, option="--stop-grace")
    if stop_grace is not None and stop_grace > MAX_STOP_GRACE:
        raise InvalidInput(
            f"--stop-grace is at most {MAX_STOP_GRACE}s, got {options.stop_grace}",
            "systemd gives a stopping run 300s (TimeoutStopSec) before it kills everything",
        )
    return Job(
        name=name,
        schedule=schedule,
        image=parse_image(options.image),
        command=tuple(options.command),
        gpus=gpus,
        gpu_ids=gpu_ids,
        min_free_vram=_optional(parse_size, options.min_free_vram, option="--min-free-vram"),
        memory=_optional(parse_size, options.memory, option="--memory"),
        cpus=None if options.cpus is None else parse_cpus(options.cpus),
        shm_size=_optional(parse_size, options.shm_size, option="--shm-size"),
        volumes=tuple(parse_volume(v) for v in options.volumes),
        env=tuple(parse_env_pair(e) for e in options.env),
        env_file=None if options.env_file is None else parse_abs_path(options.env_file, "--env-file"),
        workdir=None if options.workdir is None else parse_abs_path(options.workdir, "--workdir"),
        user=None if options.user is None else parse_user(options.user),
        timeout=_optional(schedules.parse_duration, options.timeout, option="--timeout"),
        persistent=options.persistent,
        random_delay=_optional(schedules.parse_duration, options.random_delay, option="--random-delay"),
        vram_policy=options.vram_policy,
        vram_wait=_optional(schedules.parse_duration, options.vram_wait, option="--vram-wait") or DEFAULT_VRAM_WAIT,
        max_gpu_util=options.max_gpu_util,
        exclusive=options.exclusive,
        stop_grace=stop_grace or DEFAULT_STOP_GRACE,
        retries=options.retries,
        retry_delay=_optional(schedules.parse_duration, options.retry_delay, option="--retry-delay") or DEFAULT_RETRY_DELAY,
    )


def _optional(parse, value, **kwargs):
    return None if value is None else parse(value, **kwargs)


# --- the job file -------------------------------------------------------------------

_HEADER = "# gpuagent job. Change it with `gpuagent add {name} --replace ...` or edit it: it is read at every run.\n"
_TOP_KEYS = {"schema_version", "name", "image", "command", "schedule", "resources", "container"}
_SECTION_KEYS = {
    "schedule": {"persistent", "random_delay", "at", "on", "every", "cron"},
    "resources": {"gpus", "gpu", "min_free_vram", "memory", "cpus", "shm_size", "vram_policy", "vram_wait", "max_gpu_util", "exclusive"},
    "container": {"volumes", "env", "env_file", "workdir", "user", "timeout", "stop_grace", "retries", "retry_delay"},
}


def job_to_toml(job: Job) -> str:
    import tomli_w

    def present(table: dict) -> dict:
        return {key: value for key, value in table.items() if value not in (None, [], {}, ())}

    document = {
        "schema_version": SCHEMA_VERSION,
        "name": job.name,
        "image": job.image,
        "command": list(job.command),
        "schedule": present(
            {
                **schedules.to_toml(job.schedule),
                "persistent": job.persistent,
                "random_delay": _optional(schedules.format_duration, job.random_delay),
            }
        ),
        "resources": present(
            {
                "gpus": job.gpus or None,
                "gpu": list(job.gpu_ids),
                "min_free_vram": _optional(format_size, job.min_free_vram),
                "memory": _optional(format_size, job.memory),
                "cpus": job.cpus,
                "shm_size": _optional(format_size, job.shm_size),
                "vram_policy": job.vram_policy if job.uses_gpu else None,
                "vram_wait": schedules.format_duration(job.vram_wait) if job.uses_gpu else None,
                "max_gpu_util": job.max_gpu_util,
                "exclusive": job.exclusive or None,
            }
        ),
        "container": present(
            {
                "volumes": [volume.spec() for volume in job.volumes],
                "env": dict(job.env),
                "env_file": job.env_file,
                "workdir": job.workdir,
                "user": job.user,
                "timeout": _optional(schedules.format_duration, job.timeout),
                "stop_grace": schedules.format_duration(job.stop_grace),
                "retries": job.retries or None,
                "retry_delay": schedules.format_duration(job.retry_delay) if job.retries else None,
            }
        ),
    }
    return _HEADER.format(name=job.name) + tomli_w.dumps({k: v for k, v in document.items() if v != {}})


def job_from_toml(text: str, source: Path) -> Job:
    """Parse and validate a job file's text; every problem is an InvalidInput naming the
    file. Nothing here looks at the host: host/jobfiles.py does that."""
    try:
        document = tomllib.loads(text)
        _check_keys(document)
        version = document.get("schema_version")
        if version != SCHEMA_VERSION:
            raise InvalidInput(
                f"schema_version {version!r} is not supported (this gpuagent reads {SCHEMA_VERSION})",
                "upgrade gpuagent, or re-create the job with `gpuagent add --replace`",
            )
        name = document.get("name", source.stem)
        if name != source.stem:
            raise InvalidInput(f"name {name!r} does not match the file name", f"rename the file to {name}.toml or fix name")
        schedule_table = dict(document.get("schedule", {}))
        persistent = schedule_table.pop("persistent", True)
        random_delay = schedule_table.pop("random_delay", None)
        resources = document.get("resources", {})
        container = document.get("container", {})
        options = JobOptions(
            image=_required(document, "image"),
            command=list(_required(document, "command")),
            gpus=resources.get("gpus"),
            gpu_ids=[str(gpu) for gpu in resources.get("gpu", [])],
            min_free_vram=resources.get("min_free_vram"),
            memory=resources.get("memory"),
            cpus=resources.get("cpus"),
            shm_size=resources.get("shm_size"),
            volumes=list(container.get("volumes", [])),
            env=[f"{key}={value}" for key, value in container.get("env", {}).items()],
            env_file=container.get("env_file"),
            workdir=container.get("workdir"),
            user=container.get("user"),
            timeout=container.get("timeout"),
            persistent=persistent,
            random_delay=random_delay,
            vram_policy=resources.get("vram_policy", "wait"),
            vram_wait=resources.get("vram_wait"),
            max_gpu_util=resources.get("max_gpu_util"),
            exclusive=resources.get("exclusive", False),
            stop_grace=container.get("stop_grace"),
            retries=container.get("retries", 0),
            retry_delay=container.get("retry_delay"),
        )
        return build_job(name, schedules.schedule_from_toml(schedule_table), options)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"job file {source}: not valid TOML: {err}", "fix the file, or re-create the job") from None
    except InvalidInput as err:
        raise InvalidInput(f"job file {source}: {err.message}", err.hint) from None
    except (TypeError, ValueError, AttributeError) as err:
        raise InvalidInput(f"job file {source}: a value has the wrong type ({err})", "compare with `gpuagent show`") from None


def _check_keys(document: dict) -> None:
    unknown = [key for key in document if key not in _TOP_KEYS]
    for section, allowed in _SECTION_KEYS.items():
        unknown += [f"{section}.{key}" for key in document.get(section, {}) if key not in allowed]
    if unknown:
        raise InvalidInput(f"unknown key {unknown[0]!r}", "remove it; the README's job file reference lists every key")


def _required(document: dict, key: str):
    if key not in document:
        raise InvalidInput(f"missing key {key!r}")
    return document[key]
