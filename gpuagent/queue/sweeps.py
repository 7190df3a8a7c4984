"""Sweeps: `--sweep lr=1e-3,3e-4 --sweep batch=32,64` queues one run per combination, each
with its values in its environment (GPUAGENT_SWEEP_lr=1e-3, GPUAGENT_SWEEP_batch=32) and
one group id for them all, so `gpuagent history --group G --metric val_loss` ranks them.
"""

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gpuagent.core.errors import InvalidInput

ENV_PREFIX = "GPUAGENT_SWEEP_"
MAX_SWEEP_RUNS = 256  # combinations one submit may queue
MAX_VALUE_LENGTH = 200
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
_HINT = "write --sweep NAME=V1,V2,... e.g. --sweep lr=1e-3,3e-4 (NAME: letters, digits and _, as an environment variable's)"


@dataclass(frozen=True)
class Sweep:
    names: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]  # each name's values, in the order given

    def combinations(self) -> list[dict[str, str]]:
        """Every combination, the last name varying fastest; [{}] for no sweep (one run)."""
        return [dict(zip(self.names, combination, strict=True)) for combination in itertools.product(*self.values)]


def parse_sweeps(specs: Sequence[str]) -> Sweep:
    names: list[str] = []
    values: list[tuple[str, ...]] = []
    for spec in specs:
        name, equals, listed = spec.partition("=")
        if not equals or not _NAME.fullmatch(name):
            raise InvalidInput(f"--sweep {spec!r}: not NAME=V1,V2,...", _HINT)
        if name in names:
            raise InvalidInput(f"--sweep {name}: given twice", "give each name once, with all its values")
        given = tuple(listed.split(","))
        seen: set[str] = set()
        for value in given:
            if not value or len(value) > MAX_VALUE_LENGTH or not value.isprintable():
                raise InvalidInput(f"--sweep {name}: {value!r} is not a value", f"values are 1 to {MAX_VALUE_LENGTH} printable characters, no commas")
            if value in seen:
                raise InvalidInput(f"--sweep {name}: {value!r} is given twice", "give each value once")
            seen.add(value)
        names.append(name)
        values.append(given)
    sweep = Sweep(tuple(names), tuple(values))
    count = 1
    for each in values:
        count *= len(each)
    if count > MAX_SWEEP_RUNS:
        raise InvalidInput(
            f"--sweep: {count} combinations, more than the {MAX_SWEEP_RUNS} one submit may queue", "sweep fewer values, or submit in parts"
        )
    return sweep


def sweep_env(params: dict[str, str]) -> dict[str, str]:
    """A run's sweep values as its environment."""
    return {f"{ENV_PREFIX}{name}": value for name, value in params.items()}
