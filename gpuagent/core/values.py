"""Readers of one job setting's value each, as given on the command line or in a job file;
and `visible`, their counterpart for text that comes from a run instead of a user.

Every reader matches the whole text (Python's `$` would stop before a trailing newline, so
`fullmatch`), refuses control characters wherever the text names something (a name, an
image, a user, a path, a GPU, an environment key), and keeps numbers to what docker and
systemd accept, so a job that was added runs at 02:00 as it was written. `label` names the
option or key in each error. Nothing here looks at the host: jobs/catalog.py does.
"""

import math
import os
import re
from dataclasses import dataclass

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration, parse_duration, parse_size

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
_USER_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}|\d{1,10}")
_GPU_ID = re.compile(r"\d{1,3}|GPU-[0-9a-fA-F-]{1,64}|MIG-[0-9a-zA-Z/-]{1,80}")
# docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest]
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_COMPONENT = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)"
_IMAGE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?",
    re.ASCII,
)
# Linux IDs are 32-bit, and (uid_t)-1 means "no change" to the kernel
MAX_ID = 2**32 - 2
# who a job runs as when its image's own user is root and it names none (user and group)
NOBODY_ID = 65534
NOBODY = f"{NOBODY_ID}:{NOBODY_ID}"
# docker refuses less (NanoCPUs of 0.01 core; a 6 MiB memory limit)
MIN_CPUS = 0.01
MIN_MEMORY = 6 * 1024**2
# GPUs in one host: NVIDIA's largest systems have 72 in one NVLink domain, 8 or 16 per host
MAX_GPUS = 64
# -n of history and logs: more runs or lines than one job's history or journal holds, and
# well inside the 64-bit integers SQLite's LIMIT and journalctl's -n take.
MAX_LISTED = 10**9


@dataclass(frozen=True)
class Volume:
    host: str
    container: str
    read_only: bool

    def spec(self) -> str:
        return f"{self.host}:{self.container}" + (":ro" if self.read_only else "")


def printable(text: str, label: str, what: str = "it") -> str:
    """`text` unless it holds a control character (a newline, tab, carriage return...)."""
    if not text.isprintable():
        raise InvalidInput(f"{label}: {text!r} contains a control character", f"write {what} on one line, without tabs")
    return text


# What a terminal would act on instead of show: C0 controls but tab and newline, DEL, C1
# controls (a terminal reads U+009B as ESC [ and U+009D as an OSC, like their ESC forms),
# and the bidirectional overrides, which show a line in another order than it is.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` as a terminal shows it, not as it obeys it: every control character but tab
    and newline written as Python writes it (ESC [31m as `\\x1b[31m`, a carriage return
    as `\\r`), so a run's output or a reason made from it cannot recolour, retitle, erase
    or rewrite an operator's terminal, a chat message or a page. A user's text is refused
    instead (`printable`); this is for what a container printed."""
    return CONTROL_CHARACTERS.sub(lambda match: ascii(match[0])[1:-1], text)


def parse_name(text: str, label: str = "job name") -> str:
    if not NAME_PATTERN.fullmatch(text):
        raise InvalidInput(
            f"invalid {label} {text!r}",
            "use 1-63 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit",
        )
    return text


def parse_image(text: str, label: str) -> str:
    if len(text) > 255 or not _IMAGE.fullmatch(text):
        raise InvalidInput(
            f"{label}: {text!r} is not a valid image reference",
            "write it as docker does: [registry/]repository[:tag][@sha256:digest], e.g. pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime",
        )
    return text


def parse_command(words: list[str], label: str) -> tuple[str, ...]:
    if not words:
        raise InvalidInput("no command given", "put the command after --, e.g. gpuagent add NAME ... -- python train.py")
    if any("\0" in word for word in words):
        raise InvalidInput(f"{label}: a word holds a NUL character, which no program can receive")
    return tuple(words)


def parse_count(value: int, label: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidInput(f"{label} must be {low} to {high}, got {value}")
    return value


def parse_gpu_ids(ids: list[str], label: str) -> tuple[str, ...]:
    for gpu in ids:
        if not _GPU_ID.fullmatch(gpu):
            raise InvalidInput(f"{label}: {gpu!r} is neither a GPU index nor a UUID", "see `nvidia-smi -L` for indexes and UUIDs")
    return tuple(ids)


def parse_sized(text: str, label: str, minimum: int = 1) -> int:
    size = parse_size(text, option=label)
    if size < minimum:
        raise InvalidInput(f"{label}: {text!r} is below the {minimum // 1024**2} MiB docker needs at least")
    return size


def parse_bounded_duration(text: str, label: str, most: int, why: str) -> int:
    """Seconds in `text`, at most `most`; `why` says where that bound comes from."""
    seconds = parse_duration(text, option=label)
    if seconds > most:
        raise InvalidInput(f"{label}: {text!r} is longer than {format_duration(most)}", why)
    return seconds


def parse_cpus(value: float, label: str) -> float:
    if not math.isfinite(value) or value < MIN_CPUS:
        raise InvalidInput(f"{label} must be a number of cores of at least {MIN_CPUS}, got {value}", "e.g. --cpus 8 or --cpus 0.5")
    return value


def parse_choice(text: str, label: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise InvalidInput(f"{label}: {text!r} is not one of {', '.join(choices)}")
    return text


def parse_abs_path(text: str, label: str) -> str:
    printable(text, label, "the path")
    if not os.path.isabs(text):
        raise InvalidInput(f"{label}: {text!r} is relative", "give an absolute path, e.g. /workspace")
    return os.path.normpath(text)


def parse_volume(text: str, label: str) -> Volume:
    printable(text, label, "the volume")
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise InvalidInput(f"{label}: cannot read volume {text!r}", "write HOST:CONTAINER or HOST:CONTAINER:ro")
    host, container, *mode = parts
    if mode and mode[0] not in ("ro", "rw"):
        raise InvalidInput(f"{label} {text}: unknown mode {mode[0]!r}", "the mode is ro (read-only) or rw")
    for side, path in (("host", host), ("container", container)):
        if not os.path.isabs(path):
            raise InvalidInput(f"{label} {text}: {side} path {path!r} is relative", "give absolute paths, e.g. /data:/data")
    container = os.path.normpath(container)
    if container == "/":
        raise InvalidInput(f"{label} {text}: cannot mount over the container's /", "mount it on a directory, e.g. /data")
    return Volume(host=os.path.normpath(host), container=container, read_only=bool(mode) and mode[0] == "ro")


def parse_env_pair(text: str, label: str = "-e") -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise InvalidInput(f"{label}: {text!r} is not KEY=VALUE", "e.g. -e BATCH_SIZE=64")
    return parse_env_key(key, label), parse_env_value(key, value, label)


def parse_env_key(key: str, label: str) -> str:
    if not _ENV_KEY.fullmatch(key):
        raise InvalidInput(
            f"{label}: {key!r} is not a variable name",
            "names are letters, digits and '_', not starting with a digit, e.g. BATCH_SIZE",
        )
    return key


def parse_env_value(key: str, value: str, label: str) -> str:
    if any(char in value for char in "\n\r\0"):
        raise InvalidInput(f"{label} {key}: the value holds a line break or NUL", "pass multi-line values through --env-file")
    return value


def parse_user(text: str, label: str) -> str:
    """UID[:GID] or NAME[:GROUP]: numbers in Linux's range, names as useradd allows them."""
    parts = text.split(":")
    if len(parts) > 2 or not all(_USER_PART.fullmatch(part) for part in parts):
        raise InvalidInput(f"{label}: cannot read {text!r}", "write UID[:GID] (e.g. 1000:1000) or a user name from the image")
    for part in parts:
        if part.isdigit() and int(part) > MAX_ID:
            raise InvalidInput(f"{label}: {part} is beyond the largest Linux user or group id ({MAX_ID})")
    return text
