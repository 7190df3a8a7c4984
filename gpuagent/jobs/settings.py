"""Every job setting, defined once: a row of SETTINGS.

A row says where the setting lives in the job file (section and key) and with which TOML
type, which `gpuagent add` option sets it and its help, how its value is read (the same
reader for the option and the key, so a hand-edited file is held to the CLI's rules), how
it is written back to TOML, to JSON (`show --json`) and for people, its default, what it
gives docker's create call (`docker`: host/dockerd.py) and whether a notebook or shell
takes it (`session`: sessions/spec.py). The `add` command's options, the job file, `show
--json`, the container of each run, a session's options and the job file reference
(docs/reference/job-file.md) are made from this table; tests/unit/test_docs_reference.py
fails when that page and the table disagree. The Job dataclass (jobs/job.py) is written out, a typed
field per row, and tests/unit/test_jobs.py holds it to the table. Each cluster engine maps
the rows in a table of its own (export/slurm.py, export/kubernetes.py), and a test fails
when one misses a row: adding a setting is one row plus its words, its Job field, and a
line in each engine's table.

The name and the schedule are not rows: the name is the job's identity (its file name and
unit name), and the schedule is one of four keys (jobs/schedule.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from gpuagent.core import values as v
from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration, format_size

VramPolicy = Literal["wait", "skip", "fail"]  # what a run does when no GPU fits
VRAM_POLICIES: tuple[str, ...] = get_args(VramPolicy)
DEFAULT_VRAM_WAIT = 30 * 60
DEFAULT_STOP_GRACE = 10
DEFAULT_RETRY_DELAY = 60
# The template service gives the agent TimeoutStopSec=300 to stop its container and
# record the run; the grace must fit inside it with room to spare.
MAX_STOP_GRACE = 240
MAX_RETRIES = 10
# --min-free-vram auto: the need is learned from the job's own runs (runs/vramneed.py).
AUTO_VRAM = "auto"
# --priority: the queue's order when GPUs are scarce (queue/order.py), higher first.
LOWEST_PRIORITY, DEFAULT_PRIORITY, HIGHEST_PRIORITY = 0, 50, 100
WEEK = 7 * 86400
YEAR = 365 * 86400


# How a notebook or shell (sessions/spec.py) takes a setting, the `session` of its row:
FROM_JOB = "from the job"  # its job's value (--like, or the shell's job), or the option's over it
OWN = "its own"  # the option's only: the job's value is for its scheduled runs


@dataclass(frozen=True)
class Kind:
    """A TOML type: what a key's value must be, and how the reference names it."""

    words: str
    check: Callable[[Any], bool]
    cli_type: Any  # the Python type Typer parses the option as
    example: str  # a value of this type, for hints


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


STRING = Kind("string", lambda value: isinstance(value, str), str, '"..."')
INTEGER = Kind("integer", lambda value: isinstance(value, int) and not isinstance(value, bool), int, "2")
NUMBER = Kind("number", lambda value: isinstance(value, int | float) and not isinstance(value, bool), float, "8.0")
BOOLEAN = Kind("boolean", lambda value: isinstance(value, bool), bool, "true")
STRINGS = Kind("list of strings", _strings, list[str], '["...", "..."]')
STRING_TABLE = Kind(
    "table of strings",
    lambda value: isinstance(value, dict) and all(isinstance(item, str) for item in value.values()),
    list[str],
    '{ KEY = "value" }',
)


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One job setting. Rows are written keyword by keyword: a row reads without counting."""

    field: str  # the Job attribute
    section: str  # the job file's table: "" (top level), "schedule", "resources" or "container"
    key: str
    kind: Kind
    options: tuple[str, ...]  # `add`'s spelling, e.g. ("-v", "--volume"); a boolean's "--x/--no-x"
    help: str  # for `gpuagent add --help` and the job file reference
    read: Callable[[Any, str], Any]  # the TOML-typed value and a label for errors -> the Job's value
    default: Any  # the Job's value when neither option nor key is given
    to_toml: Callable[[Any], Any] = lambda value: value  # the Job's value -> the key's value
    json_key: str = ""  # defaults to `field`
    to_json: Callable[[Any], Any] = lambda value: value
    human: Callable[[Any], str] = str  # for `show`
    from_cli: Callable[[Any, str], Any] | None = None  # the option's value -> the key's, when they differ
    metavar: str | None = None
    required: bool = False  # a job has no default for it
    # How the Job's value reaches docker's create call: the create options it becomes, by
    # the names host/dockerd.py's create_body places in the Engine API's request (it adds
    # the run's own). None: not a container setting; admission, the timer or the runner use it.
    docker: Callable[[Any], dict[str, Any]] | None = None
    # How a notebook or shell takes it (sessions/spec.py): FROM_JOB, OWN, or None (a
    # scheduled job's alone: its schedule, command, retries...).
    session: str | None = None
    session_help: str = ""  # the session option's help, where it means other than `add`'s

    @property
    def path(self) -> str:
        """The key as people name it: `resources.memory`."""
        return f"{self.section}.{self.key}" if self.section else self.key

    @property
    def option(self) -> str:
        """The long option, as errors name it: `--memory`, `--persistent` (the key for a
        setting that has no option: the command is `add`'s arguments)."""
        return self.options[-1].split("/")[0] if self.options else self.key

    @property
    def json_name(self) -> str:
        return self.json_key or self.field

    def check_type(self, value: Any, source: str) -> None:
        if not self.kind.check(value):
            raise InvalidInput(
                f"job file {source}: {self.path} must be a {self.kind.words}, got {_toml_words(value)}",
                f"write it as {self.example()}",
            )

    def example(self) -> str:
        return f"{self.key} = {self.kind.example}"


def _toml_words(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return f"{kind.get(type(value), type(value).__name__)} ({value!r})"


def _with(read: Callable[..., Any], *args: Any) -> Callable[[Any, str], Any]:
    """`read` with its bounds: the reader of a row takes only the value and a label."""
    return lambda value, label: read(value, label, *args)


def _as_is(value: Any, label: str) -> Any:
    """A value whose TOML type says all there is to check (a boolean)."""
    return value


def _size_or_none(size: int | None) -> str | None:
    return None if size is None else format_size(size)


def _vram_need(text: str, label: str) -> int | str:
    """A size, or `auto`: learned from history when a run is admitted."""
    return AUTO_VRAM if text == AUTO_VRAM else v.parse_sized(text, label)


def _vram_need_words(need: int | str | None) -> str | None:
    return need if need == AUTO_VRAM else _size_or_none(need)


def _duration_or_none(seconds: int | None) -> str | None:
    return None if seconds is None else format_duration(seconds)


def _env_from_cli(pairs: list[str], label: str) -> dict[str, str]:
    return dict(v.parse_env_pair(pair, label) for pair in pairs)


def _read_env(table: dict[str, str], label: str) -> tuple[tuple[str, str], ...]:
    return tuple((v.parse_env_key(key, label), v.parse_env_value(key, value, label)) for key, value in table.items())


def _docker_volumes(volumes: tuple[v.Volume, ...]) -> dict[str, Any]:
    return {"volumes": {volume.host: {"bind": volume.container, "mode": "ro" if volume.read_only else "rw"} for volume in volumes}}


def _dash(value: Any) -> str:
    return "-" if value in (None, (), "") else str(value)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        field="image",
        section="",
        key="image",
        kind=STRING,
        options=("--image",),
        help="Container image, e.g. pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime; it must be on the host.",
        read=v.parse_image,
        default=None,
        metavar="IMAGE",
        required=True,
        docker=lambda image: {"image": image},
        session=FROM_JOB,
    ),
    Setting(
        field="command",
        section="",
        key="command",
        kind=STRINGS,
        options=(),
        help="The command to run in the container: `add`'s arguments after `--`.",
        read=v.parse_command,
        default=None,
        to_toml=list,
        to_json=list,
        human=" ".join,
        required=True,
        docker=lambda command: {"command": list(command)},
    ),
    Setting(
        field="persistent",
        section="schedule",
        key="persistent",
        kind=BOOLEAN,
        options=("--persistent/--no-persistent",),
        help="Catch up a fire missed while the host was off (calendar schedules).",
        read=_as_is,
        default=True,
    ),
    Setting(
        field="random_delay",
        section="schedule",
        key="random_delay",
        kind=STRING,
        options=("--random-delay",),
        help="Spread the start by up to this long, e.g. 10m (at most 7d).",
        read=_with(v.parse_bounded_duration, WEEK, "a longer spread belongs in the schedule itself"),
        default=None,
        to_toml=_duration_or_none,
        json_key="random_delay_seconds",
        human=lambda s: _dash(_duration_or_none(s)),
        metavar="DURATION",
    ),
    Setting(
        field="after",
        section="schedule",
        key="after",
        kind=STRING,
        options=("--after",),
        help="Also run each time a run of this other job succeeds (not after a failure, a skip or a stop); with no --at/--on/--every/--cron, only then.",
        read=lambda value, label: v.parse_name(value, f"{label} job name"),
        default=None,
        human=_dash,
        metavar="JOB",
    ),
    Setting(
        field="enabled",
        section="schedule",
        key="enabled",
        kind=BOOLEAN,
        options=("--enabled/--disabled",),
        help="Whether the job runs: a disabled job's timer is installed but switched off, and its upstream's successes do not start it "
        "(`gpuagent enable`/`disable` write it; `sync` applies it; the file holds it only when false).",
        read=_as_is,
        default=True,
        to_toml=lambda flag: None if flag else False,
        human=lambda flag: "yes" if flag else "no",
    ),
    Setting(
        field="gpus",
        section="resources",
        key="gpus",
        kind=INTEGER,
        options=("--gpus",),
        help="How many GPUs the run needs (0: a CPU job; default: as many as --gpu names).",
        read=_with(v.parse_count, 0, v.MAX_GPUS),
        default=None,
        to_toml=lambda n: n or None,
        metavar="N",
        session=FROM_JOB,
    ),
    Setting(
        field="gpu_ids",
        section="resources",
        key="gpu",
        kind=STRINGS,
        options=("--gpu",),
        help="Allowed GPU, by index or UUID (repeatable); the run takes --gpus of them.",
        read=v.parse_gpu_ids,
        default=(),
        to_toml=lambda ids: list(ids) or None,
        to_json=list,
        human=lambda ids: ", ".join(ids) or "any",
        metavar="ID",
        session=FROM_JOB,
    ),
    Setting(
        field="min_free_vram",
        section="resources",
        key="min_free_vram",
        kind=STRING,
        options=("--min-free-vram",),
        help="Free GPU memory each chosen GPU must have, e.g. 20GiB; auto: learned from the peak of the job's recent successful runs (docs/queue.md).",
        read=_vram_need,
        default=None,
        to_toml=_vram_need_words,
        json_key="min_free_vram_bytes",
        human=lambda s: _dash(_vram_need_words(s)),
        metavar="SIZE",
        session=FROM_JOB,
    ),
    Setting(
        field="memory",
        section="resources",
        key="memory",
        kind=STRING,
        options=("--memory",),
        help="Host memory limit, e.g. 32g, no swap on top (at least 6MiB); over it the run ends oom-killed.",
        read=_with(v.parse_sized, v.MIN_MEMORY),
        default=None,
        to_toml=_size_or_none,
        json_key="memory_bytes",
        human=lambda s: _dash(_size_or_none(s)),
        metavar="SIZE",
        # the swap limit equal to the memory limit: no swap on top of it
        docker=lambda size: {"mem_limit": size, "memswap_limit": size},
        session=FROM_JOB,
    ),
    Setting(
        field="cpus",
        section="resources",
        key="cpus",
        kind=NUMBER,
        options=("--cpus",),
        help="CPU limit in cores, e.g. 8 or 0.5 (at least 0.01, at most the host's).",
        read=lambda value, label: v.parse_cpus(float(value), label),
        default=None,
        to_toml=lambda c: None if c is None else float(c),
        human=_dash,
        metavar="CORES",
        docker=lambda cores: {"nano_cpus": None if cores is None else int(cores * 1e9)},
        session=FROM_JOB,
    ),
    Setting(
        field="shm_size",
        section="resources",
        key="shm_size",
        kind=STRING,
        options=("--shm-size",),
        help="Size of /dev/shm, e.g. 8g (PyTorch DataLoader workers need more than docker's 64m).",
        read=v.parse_sized,
        default=None,
        to_toml=_size_or_none,
        json_key="shm_size_bytes",
        human=lambda s: _dash(_size_or_none(s)),
        metavar="SIZE",
        docker=lambda size: {"shm_size": size},
        session=FROM_JOB,
    ),
    Setting(
        field="vram_policy",
        section="resources",
        key="vram_policy",
        kind=STRING,
        options=("--vram-policy",),
        help="When no GPU fits: wait (until --vram-wait), skip (record skipped-vram, exit 0) or fail (exit 1).",
        read=_with(v.parse_choice, VRAM_POLICIES),
        default="wait",
        to_toml=lambda p: None if p == "wait" else p,
        metavar="POLICY",
    ),
    Setting(
        field="vram_wait",
        section="resources",
        key="vram_wait",
        kind=STRING,
        options=("--vram-wait",),
        help="How long --vram-policy wait polls NVML for a GPU that fits (default 30m, at most 7d).",
        read=_with(v.parse_bounded_duration, WEEK, "a run that cannot start within a week should be skipped"),
        default=DEFAULT_VRAM_WAIT,
        to_toml=lambda s: None if s == DEFAULT_VRAM_WAIT else format_duration(s),
        json_key="vram_wait_seconds",
        human=format_duration,
        metavar="DURATION",
        # someone is waiting at the terminal: a job's 30-minute wait is not for them
        session=OWN,
        session_help="Wait this long for GPU memory that fits (default: fail at once).",
    ),
    Setting(
        field="max_gpu_util",
        section="resources",
        key="max_gpu_util",
        kind=INTEGER,
        options=("--max-gpu-util",),
        help="Refuse GPUs busier than this percentage (a GPU whose utilisation NVML cannot read is refused).",
        read=_with(v.parse_count, 0, 100),
        default=None,
        json_key="max_gpu_util_pct",
        human=lambda p: "-" if p is None else f"{p}%",
        metavar="PCT",
        session=FROM_JOB,
    ),
    Setting(
        field="exclusive",
        section="resources",
        key="exclusive",
        kind=BOOLEAN,
        options=("--exclusive",),
        help="Refuse GPUs running processes that gpuagent did not start.",
        read=_as_is,
        default=False,
        to_toml=lambda flag: flag or None,
        session=FROM_JOB,
    ),
    Setting(
        field="priority",
        section="resources",
        key="priority",
        kind=INTEGER,
        options=("--priority",),
        help=f"Place in the queue when GPUs are scarce: {LOWEST_PRIORITY}-{HIGHEST_PRIORITY}, higher first (default {DEFAULT_PRIORITY}); "
        "a scheduled run waiting for GPU memory takes its place in the same order (docs/queue.md).",
        read=_with(v.parse_count, LOWEST_PRIORITY, HIGHEST_PRIORITY),
        default=DEFAULT_PRIORITY,
        to_toml=lambda n: None if n == DEFAULT_PRIORITY else n,
        metavar="N",
    ),
    Setting(
        field="preempt",
        section="resources",
        key="preempt",
        kind=BOOLEAN,
        options=("--preempt",),
        help="When nothing else fits, stop running queued runs of a lower priority to take their GPUs: they get SIGTERM and their stop grace "
        "(to save a checkpoint), are recorded preempted and wait again at the head of their priority (docs/queue.md).",
        read=_as_is,
        default=False,
        to_toml=lambda flag: flag or None,
    ),
    Setting(
        field="volumes",
        section="container",
        key="volumes",
        kind=STRINGS,
        options=("-v", "--volume"),
        help="Bind mount HOST:CONTAINER[:ro] (repeatable); the host path must exist and must not hold the docker socket.",
        read=lambda specs, label: tuple(v.parse_volume(spec, label) for spec in specs),
        default=(),
        to_toml=lambda volumes: [volume.spec() for volume in volumes] or None,
        to_json=lambda volumes: [{"host": x.host, "container": x.container, "read_only": x.read_only} for x in volumes],
        human=lambda volumes: ", ".join(volume.spec() for volume in volumes) or "-",
        metavar="HOST:CONTAINER[:ro]",
        docker=_docker_volumes,
        session=FROM_JOB,
    ),
    Setting(
        field="env",
        section="container",
        key="env",
        kind=STRING_TABLE,
        options=("-e", "--env"),
        help="Environment variable KEY=VALUE (repeatable); in the job file a table.",
        read=_read_env,
        default=(),
        to_toml=lambda pairs: dict(pairs) or None,
        to_json=dict,
        human=lambda pairs: ", ".join(k for k, _ in pairs) or "-",
        from_cli=_env_from_cli,
        metavar="KEY=VALUE",
        # host/dockerd.py puts it over the env file's, read at each run
        docker=lambda pairs: {"environment": dict(pairs)},
        session=FROM_JOB,
    ),
    Setting(
        field="env_file",
        section="container",
        key="env_file",
        kind=STRING,
        options=("--env-file",),
        help="File of KEY=VALUE lines, read at each run: keep secrets there, mode 0600 (`show` prints its path, never its content).",
        read=v.parse_abs_path,
        default=None,
        human=_dash,
        metavar="PATH",
        session=FROM_JOB,
    ),
    Setting(
        field="workdir",
        section="container",
        key="workdir",
        kind=STRING,
        options=("--workdir",),
        help="Working directory in the container.",
        read=v.parse_abs_path,
        default=None,
        human=_dash,
        metavar="DIR",
        docker=lambda directory: {"working_dir": directory},
        session=FROM_JOB,
    ),
    Setting(
        field="user",
        section="container",
        key="user",
        kind=STRING,
        options=("--user",),
        help="UID[:GID] or name to run as (default: the image's user, or nobody (65534) if that is root; --user 0 for root).",
        read=v.parse_user,
        default=None,
        human=_dash,
        metavar="UID[:GID]",
        # None: host/dockerd.py runs the image's user, or nobody for root
        docker=lambda user: {"user": user},
        session=FROM_JOB,
    ),
    Setting(
        field="timeout",
        section="container",
        key="timeout",
        kind=STRING,
        options=("--timeout",),
        help="Stop the run after this long and record timed-out, e.g. 6h (at most 365d).",
        read=_with(v.parse_bounded_duration, YEAR, "a run longer than a year is not a scheduled job"),
        default=None,
        to_toml=_duration_or_none,
        json_key="timeout_seconds",
        human=lambda s: _dash(_duration_or_none(s)),
        metavar="DURATION",
    ),
    Setting(
        field="stop_grace",
        section="container",
        key="stop_grace",
        kind=STRING,
        options=("--stop-grace",),
        help="Between SIGTERM and SIGKILL when a run is stopped or times out (default 10s, at most 240s).",
        read=_with(v.parse_bounded_duration, MAX_STOP_GRACE, "systemd gives a stopping run 300s (TimeoutStopSec) before it kills everything"),
        default=DEFAULT_STOP_GRACE,
        to_toml=format_duration,
        json_key="stop_grace_seconds",
        human=format_duration,
        metavar="DURATION",
        session=FROM_JOB,
    ),
    Setting(
        field="retries",
        section="container",
        key="retries",
        kind=INTEGER,
        options=("--retries",),
        help="Run again after failed, oom-killed or cuda-oom, up to N times (not after a skip, a stop or a timeout), each attempt its own history row.",
        read=_with(v.parse_count, 0, MAX_RETRIES),
        default=0,
        to_toml=lambda n: n or None,
        metavar="N",
    ),
    Setting(
        field="retry_delay",
        section="container",
        key="retry_delay",
        kind=STRING,
        options=("--retry-delay",),
        help="Pause before a retry (default 1m, at most 1d).",
        read=_with(v.parse_bounded_duration, 86400, "a longer pause belongs to the next scheduled run"),
        default=DEFAULT_RETRY_DELAY,
        to_toml=lambda s: None if s == DEFAULT_RETRY_DELAY else format_duration(s),
        json_key="retry_delay_seconds",
        human=format_duration,
        metavar="DURATION",
    ),
)

BY_FIELD = {setting.field: setting for setting in SETTINGS}
SECTIONS = ("schedule", "resources", "container")
