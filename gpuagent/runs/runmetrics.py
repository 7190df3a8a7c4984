"""What a run reports it learned: numbers it writes, as JSON, to a file gpuagent names.

The container finds the file's path in GPUAGENT_METRICS_FILE. After the container exits
gpuagent reads what it wrote: an object of names and numbers, `{"val_loss": 0.21,
"steps": 5000}`. A file that breaks the rules never fails the run: the run keeps the
numbers that pass and its record says what was wrong.

A run started by another job's success (`--after`) is also told about that run: its id
and its numbers, and those of the upstream job's previous successful run, as files
(the same JSON) and as environment variables, so comparing them is a few lines of the
user's own code.
"""

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gpuagent.core.errors import InvalidInput
from gpuagent.runs.record import RunRecord, Status

MAX_BYTES = 64 * 1024
MAX_METRICS = 200
# The largest value kept, either sign: the change between two runs (history, --json, the
# report) is then a finite number too (two values near float's 1.8e308 differ by infinity,
# which JSON cannot hold).
MAX_VALUE = 1e300
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
NAME_RULE = "letters, digits and _, not starting with a digit, at most 64 characters"

# Inside the container: where the run writes, and where it reads what started it.
OUT_DIR = "/gpuagent/out"
IN_DIR = "/gpuagent/in"
METRICS_FILE = "metrics.json"
UPSTREAM_FILE = "upstream-metrics.json"
PREVIOUS_UPSTREAM_FILE = "previous-upstream-metrics.json"

Metrics = dict[str, float]


@dataclass(frozen=True)
class Reported:
    metrics: Metrics | None  # None: the run wrote no file (or nothing that could be read)
    problem: str | None  # what was wrong with the file, for the run's record


@dataclass(frozen=True)
class Upstream:
    """The run whose success started this one, and its job's success before it."""

    job: str
    run_id: str
    metrics: Metrics
    previous_run_id: str | None  # None: the upstream job had not succeeded before
    previous_metrics: Metrics


def parse_reported(data: bytes) -> Reported:
    """The numbers in a metrics file's bytes (read up to MAX_BYTES + 1). Whatever the
    bytes are, the answer is a Reported: the container wrote them, and nothing it writes
    may fail its run."""
    if len(data) > MAX_BYTES:
        return Reported(None, f"metrics file is over {MAX_BYTES // 1024} KiB: ignored")
    try:
        # Integers are read as floats, as they are kept: a 400-digit one is then infinite
        # and refused below, not an OverflowError, and no digit limit applies.
        document = json.loads(data, parse_int=float)
    except RecursionError:
        return Reported(None, "metrics file nests too deeply to read: ignored")
    except (UnicodeDecodeError, ValueError) as err:
        return Reported(None, f"metrics file is not JSON ({err}): ignored")
    if not isinstance(document, dict):
        return Reported(None, f'metrics file holds a JSON {_kind(document)}, not an object like {{"loss": 0.5}}: ignored')
    metrics: Metrics = {}
    rejected: list[str] = []
    for name, value in document.items():
        if not NAME.fullmatch(name):
            rejected.append(f"{name[:70]!r} (names: {NAME_RULE})")
        elif not isinstance(value, float) or not abs(value) <= MAX_VALUE:  # NaN too
            rejected.append(f"{name} = {_shown(value)} (values: numbers within ±{MAX_VALUE:.0e})")
        elif len(metrics) >= MAX_METRICS:
            rejected.append(f"{name} (more than {MAX_METRICS} metrics)")
        else:
            metrics[name] = value
    problem = None
    if rejected:
        shown = "; ".join(rejected[:3]) + (f"; and {len(rejected) - 3} more" if len(rejected) > 3 else "")
        problem = f"metrics file: {len(rejected)} entr{'y' if len(rejected) == 1 else 'ies'} ignored: {shown}"
    return Reported(metrics, problem)


def _kind(value: object) -> str:
    return {dict: "object", list: "array", str: "string", float: "number", bool: "boolean"}.get(type(value), "null")


def _shown(value: object) -> str:
    """A refused value, short and on one line; a nested one only by its kind (its depth
    is the container's choice)."""
    if isinstance(value, dict | list):
        return f"a JSON {_kind(value)}"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else "Infinity or a number beyond that"  # a 400-digit integer reads as Infinity
    return json.dumps(value[:40] if isinstance(value, str) else value)


def run_environment(job: str, run_id: str, upstream: Upstream | None) -> dict[str, str]:
    """What gpuagent tells the container about its run (and the run that started it)."""
    environment = {
        "GPUAGENT_JOB": job,
        "GPUAGENT_RUN_ID": run_id,
        "GPUAGENT_METRICS_FILE": f"{OUT_DIR}/{METRICS_FILE}",
    }
    if upstream is not None:
        environment |= {
            "GPUAGENT_UPSTREAM_JOB": upstream.job,
            "GPUAGENT_UPSTREAM_RUN_ID": upstream.run_id,
            "GPUAGENT_UPSTREAM_METRICS": f"{IN_DIR}/{UPSTREAM_FILE}",
            "GPUAGENT_PREVIOUS_UPSTREAM_RUN_ID": upstream.previous_run_id or "",
            "GPUAGENT_PREVIOUS_UPSTREAM_METRICS": f"{IN_DIR}/{PREVIOUS_UPSTREAM_FILE}",
        }
        environment |= _metric_variables("GPUAGENT_UPSTREAM_METRIC_", upstream.metrics)
        environment |= _metric_variables("GPUAGENT_PREVIOUS_UPSTREAM_METRIC_", upstream.previous_metrics)
    return environment


def upstream_files(upstream: Upstream) -> dict[str, str]:
    """The files of IN_DIR, by name: the two runs' numbers as JSON."""
    return {UPSTREAM_FILE: _json(upstream.metrics), PREVIOUS_UPSTREAM_FILE: _json(upstream.previous_metrics)}


@dataclass(frozen=True)
class MetricPoint:
    run: RunRecord
    value: float | None  # None: the run did not report the metric
    change: float | None  # from the previous successful run that reported it; None: no such run


def metric_points(runs: Sequence[RunRecord], name: str, earlier: float | None) -> list[MetricPoint]:
    """Metric `name` run by run, `runs` newest first as history lists them; `earlier`: its
    value in the newest successful run older than all of `runs` that reported it."""
    points, baseline = [], earlier
    for run in reversed(runs):
        value = (run.metrics or {}).get(name)
        points.append(MetricPoint(run, value, None if value is None or baseline is None else value - baseline))
        if value is not None and run.status == Status.SUCCEEDED:
            baseline = value
    return points[::-1]


def parse_metric_name(text: str, label: str = "--metric") -> str:
    if not NAME.fullmatch(text):
        raise InvalidInput(f"{label}: {text!r} is not a metric name", f"metric names are {NAME_RULE}, as runs report them")
    return text


def format_change(change: float | None) -> str:
    """A change for people: '+0.012', '-3', '0'; '' for none."""
    if change is None:
        return ""
    return "0" if change == 0 else ("+" if change > 0 else "-") + format_value(abs(change))


def format_value(value: float) -> str:
    """A metric for people: integers without '.0', others to 6 significant digits."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def _metric_variables(prefix: str, metrics: Metrics) -> dict[str, str]:
    return {f"{prefix}{name}": repr(value) for name, value in metrics.items()}


def _json(metrics: Metrics) -> str:
    return json.dumps(metrics, sort_keys=True) + "\n"
