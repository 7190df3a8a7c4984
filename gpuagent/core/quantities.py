"""Quantities as people write them: memory sizes (20GiB, 32g, 512m, 1.5G), durations
(90s, 30m, 6h, 1h30m) and --since WHEN (a moment, or how long ago).

Sizes are powers of 1024 whatever their spelling (g, gb, gib), as docker reads them, so
`--memory 32g` means here what it means to `docker run`. Durations are lower case only:
to systemd 'M' is a month, so '1M' must not mean a minute.
"""

import math
import re
from datetime import UTC, datetime, time, timedelta

from gpuagent.core.errors import InvalidInput

# ---------------------------------------------------------------------------- sizes

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
# Spaces only, and the whole text: `\s` and `$` would let a newline through.
_SIZE = re.compile(r" *(\d{1,15}(?:\.\d{1,9})?) *([kmgt]?)(?:i?b)? *", re.IGNORECASE | re.ASCII)
# docker keeps sizes in a signed 64-bit integer
MAX_SIZE = 2**63 - 1


def parse_size(text: str, *, option: str) -> int:
    """Bytes in `text`; InvalidInput naming `option` when it does not parse or is not positive."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise InvalidInput(
            f"{option}: cannot read size {text!r}",
            "write a number and a unit, for example 512m, 32g or 20GiB (units are powers of 1024)",
        )
    number, unit = match.groups()
    size = int(float(number) * _UNITS[unit.lower()])
    if size <= 0:
        raise InvalidInput(f"{option}: size must be greater than zero, got {text!r}")
    if size > MAX_SIZE:
        raise InvalidInput(f"{option}: {text!r} is larger than docker can hold (8 EiB)")
    return size


def format_size(size: int) -> str:
    """The shortest exact-enough human spelling: 20GiB, 512MiB, 1.5GiB."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{size}B"


def mebibytes(size: int) -> int:
    """Bytes in whole MiB, rounded up: nvidia-smi, Slurm and GPU Feature Discovery count MiB."""
    return math.ceil(size / 1024**2)


# ---------------------------------------------------------------------------- durations

_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 7 * 86400),
}
# Spaces only (`\s` would let a newline or tab through), and at most 12 digits a number.
_PLAIN_SECONDS = re.compile(r" *(\d{1,12}) *", re.ASCII)
_DURATION = re.compile(r"(?: *\d{1,12} *[a-z]+)+ *", re.ASCII)
_DURATION_PART = re.compile(r"(\d+) *([a-z]+)", re.ASCII)
_DURATION_HINT = "write a number and a unit, e.g. 90s, 30m, 6h, 2d or 1h30m (units s, m, h, d, w; a plain number is seconds)"
_FORMAT_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(text: str, *, option: str | None = None) -> int:
    """Seconds in a time span such as 90s, 30m, 6h, 2d, 1h30m or 45 (plain = seconds).
    Units are lower case only: to systemd 'M' is a month, so '1M' must not mean a minute.
    `option` names the option or key in the error, e.g. '--timeout'."""
    prefix = f"{option}: " if option else ""
    plain = _PLAIN_SECONDS.fullmatch(text)
    parts = _DURATION_PART.findall(text)
    if plain:
        seconds = int(plain[1])
    elif _DURATION.fullmatch(text) and all(unit in _UNIT_SECONDS for _, unit in parts):
        seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    else:
        raise InvalidInput(f"{prefix}cannot read duration {text!r}", _DURATION_HINT)
    if seconds == 0:
        raise InvalidInput(f"{prefix}duration must be greater than zero, got {text!r}", _DURATION_HINT)
    return seconds


def format_duration(seconds: int) -> str:
    """A time span systemd reads back (OnUnitActiveSec=, RandomizedDelaySec=): 6h, 1h30m, 45s."""
    if seconds < 0:
        raise ValueError(f"negative duration: {seconds}")
    parts = []
    for unit, size in _FORMAT_UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


# ---------------------------------------------------------------------------- --since
_HINT = "write how long ago (30m, 6h, 2d, 1h30m), today, yesterday, a date (2026-01-31) or a local date and time (2026-01-31 02:00)"
# Nothing gpuagent records is older than the Unix epoch, and a moment to come names no
# past run: the bounds also keep every moment one datetime (and journalctl) can hold.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_since(text: str, now: datetime) -> datetime:
    """The moment `text` names, an aware datetime from the epoch to `now`; dates and times
    without a zone are in the host's local time. `now` is aware."""
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        day = now.astimezone().date() - timedelta(days=1 if word == "yesterday" else 0)
        return datetime.combine(day, time()).astimezone()
    if word[:1].isdigit() and "-" not in word and ":" not in word:
        try:
            seconds = parse_duration(text.strip(), option="--since")
        except InvalidInput:
            raise InvalidInput(f"--since: cannot read {text!r}", _HINT) from None
        if seconds > (now - EPOCH).total_seconds():
            raise InvalidInput(f"--since: {text.strip()!r} ago is before 1970, and nothing was recorded then", "write a shorter span, e.g. 30d")
        return now - timedelta(seconds=seconds)
    try:
        named = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"--since: cannot read {text!r}", _HINT) from None
    try:
        moment = named.astimezone()
    except (ValueError, OverflowError):  # year 1, or 9999, moved to another zone
        moment = EPOCH - timedelta(days=1) if named.year < EPOCH.year else now + timedelta(days=1)
    if not EPOCH <= moment <= now:
        raise InvalidInput(
            f"--since: {text.strip()!r} is " + ("before 1970, and nothing was recorded then" if moment < EPOCH else "still to come"),
            "name a moment from the past, e.g. yesterday or 2026-01-31",
        )
    return moment
