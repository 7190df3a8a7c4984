"""Memory sizes as people write them: 20GiB, 32g, 512m, 1.5G.

Units are powers of 1024 whatever their spelling (g, gb, gib), as docker reads them, so
`--memory 32g` means here what it means to `docker run`.
"""

import math
import re

from gpuagent.errors import InvalidInput

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
