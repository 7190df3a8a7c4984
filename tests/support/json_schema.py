"""The --json documents' schema, as data: field -> type, checked against every record.

A type is a Python type (int excludes bool; float takes int), MOMENT (an ISO 8601 time
in UTC), Maybe(schema) (that or null), [schema] (a list of it), MapOf(type) (an object
with any keys), OneOf(values), Either(schemas) (a value of one of them) or a dict (an object with exactly these keys).
docs/reference/json-output.md documents each field name (tests/support/json_fields.py).

A job's settings are not listed here: each is its row's JSON name (jobs/settings.py)
with the schema of its Job field's type (jobs/job.py), so a new row is checked as it comes.
"""

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gpuagent.jobs.job import Job
from gpuagent.jobs.settings import SETTINGS

MOMENT = "moment"


@dataclass(frozen=True)
class Maybe:
    schema: Any


@dataclass(frozen=True)
class MapOf:
    values: type


@dataclass(frozen=True)
class OneOf:
    values: tuple


@dataclass(frozen=True)
class Either:
    schemas: tuple


SCHEDULE = {
    "kind": OneOf(("at", "on", "every", "cron", "none")),
    "value": str,
    "description": str,
    "on_calendar": [str],
    "interval_seconds": Maybe(int),
    "tz": Maybe(str),
}


def schema_of(hint: Any) -> Any:
    """The schema of a Job field's value once it is JSON (its row's to_json): X | None is
    Maybe, X | Y Either, a Literal OneOf, a tuple of (key, value) pairs an object of any keys, a tuple a
    list, a dataclass an object of its fields."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [schema_of(argument) for argument in arguments if argument is not type(None)]
        either = inner[0] if len(inner) == 1 else Either(tuple(inner))
        return Maybe(either) if type(None) in arguments else either
    if origin is typing.Literal:
        return OneOf(arguments)
    if origin is tuple:
        item = arguments[0]
        if typing.get_origin(item) is tuple and typing.get_args(item)[0] is str:
            return MapOf(typing.get_args(item)[1])
        return [schema_of(item)]
    if dataclasses.is_dataclass(hint):
        return {
            field.name: schema_of(field_hint)
            for field, field_hint in zip(dataclasses.fields(hint), typing.get_type_hints(hint).values(), strict=True)
        }
    return hint


_JOB_TYPES = typing.get_type_hints(Job)
JOB = {"name": str, "schedule": SCHEDULE, **{setting.json_name: schema_of(_JOB_TYPES[setting.field]) for setting in SETTINGS}}
TIMER = {"enabled": Maybe(bool), "next_fire": Maybe(MOMENT), "last_fire": Maybe(MOMENT)}
LIST = {"jobs": [{"name": str, "problem": Maybe(str), "job": Maybe(JOB), **TIMER}], "systemd_error": Maybe(str)}
NOTIFY = {"file": str, "urls": [{"scope": OneOf(("host", "job")), "events": [str]}], "ping": bool, "problems": [str]}
SHOW = {
    "job": JOB,
    "job_file": str,
    "timer_file": str,
    "timer_installed": bool,
    **TIMER,
    "next_fires": [MOMENT],
    "followers": [str],
    "vram_need": Maybe({"bytes": int, "source": str}),
    "systemd_error": Maybe(str),
    "notify": Maybe(NOTIFY),
}
NOTIFICATION = {"channel": OneOf(("notify", "ping")), "event": str, "sent_at": MOMENT, "delivered": bool, "detail": Maybe(str)}
LAST_RUN = {
    "run_id": str,
    "status": str,
    "reason": Maybe(str),
    "exit_code": Maybe(int),
    "started_at": MOMENT,
    "ended_at": Maybe(MOMENT),
    "duration_seconds": Maybe(float),
}
STATUS = {
    "host": str,
    "jobs": [
        {
            "name": str,
            "problem": Maybe(str),
            "schedule": Maybe(str),
            "on_calendar": Maybe([str]),
            "interval_seconds": Maybe(int),
            "tz": Maybe(str),
            **TIMER,
            "last_run": Maybe(LAST_RUN),
            "recent_finished": int,
            "recent_succeeded": int,
            "success_rate": Maybe(float),
            "failing": bool,
            "missed_last_fire": bool,
            "last_notification": Maybe({"run_id": Maybe(str), **NOTIFICATION}),
            "metric": Maybe({"name": str, "run_id": str, "value": float, "change": Maybe(float)}),
        }
    ],
    "systemd_error": Maybe(str),
    "queue": Maybe({"waiting": int, "starting": int, "running": int, "oldest_waiting_since": Maybe(MOMENT)}),
}
RUN = {
    **LAST_RUN,
    "job": str,
    "kind": OneOf(("job", "notebook", "shell", "queue")),
    "attempt": int,
    "first_run_id": Maybe(str),
    "gpu_uuids": [str],
    "gpu_names": [str],
    "driver_version": Maybe(str),
    "peak_vram_bytes": Maybe(int),
    "mean_vram_bytes": Maybe(int),
    "mean_gpu_util_pct": Maybe(float),
    "image": Maybe(str),
    "image_digest": Maybe(str),
    "job_hash": Maybe(str),
    "container_id": Maybe(str),
    "invocation_id": Maybe(str),
    "agent_pid": Maybe(int),
    "log_tail": Maybe(str),
    "metrics": MapOf(float),
    "metrics_problem": Maybe(str),
    "upstream_run_id": Maybe(str),
    "catch_up": bool,
    "submitter": Maybe(str),
    "group_id": Maybe(str),
    "params": MapOf(str),
    "vram_need_bytes": Maybe(int),
    "vram_need_source": Maybe(str),
    "notifications": [NOTIFICATION],
}
HISTORY = {"runs": [RUN]}
METRIC_HISTORY = {
    "job": str,
    "metric": str,
    "runs": [{"run_id": str, "status": str, "started_at": MOMENT, "value": Maybe(float), "change": Maybe(float)}],
}
GROUP_HISTORY = {
    "group_id": str,
    "metric": Maybe(str),
    "order": OneOf(("started", "lowest-first", "highest-first")),
    "runs_in_group": int,
    "unreported": int,
    "runs": [
        {
            "rank": Maybe(int),
            "value": Maybe(float),
            "params": MapOf(str),
            "run_id": str,
            "job": str,
            "status": str,
            "attempt": int,
            "started_at": MOMENT,
            "ended_at": Maybe(MOMENT),
            "duration_seconds": Maybe(float),
            "peak_vram_bytes": Maybe(int),
            "metrics": MapOf(float),
        }
    ],
}
RUN_DETAIL = {"run": RUN, "started_runs": [{"run_id": str, "job": str, "status": str}]}
GPU_PROCESS = {"pid": int, "used_bytes": Maybe(int), "container_id": Maybe(str), "job": Maybe(str)}
GPU = {
    "index": int,
    "uuid": Maybe(str),
    "name": Maybe(str),
    "memory_total_bytes": Maybe(int),
    "memory_used_bytes": Maybe(int),
    "memory_free_bytes": Maybe(int),
    "utilization_pct": Maybe(int),
    "temperature_c": Maybe(int),
    "power_watts": Maybe(float),
    "error": Maybe(str),
    "processes": [GPU_PROCESS],
    "reserved": [{"holder": Maybe(str), "run_id": str, "bytes": int}],
}
GPUS = {"host": str, "driver_version": Maybe(str), "nvml_error": Maybe(str), "docker_error": Maybe(str), "gpus": [GPU]}
DOCTOR = {
    "ready": bool,
    "findings": [{"check": str, "level": OneOf(("ok", "warning", "error")), "message": str, "fix": Maybe(str)}],
}
NOTEBOOKS = {
    "notebooks": [
        {
            "name": str,
            "active": bool,
            "url": Maybe(str),
            "port": Maybe(int),
            "like": Maybe(str),
            "idle_timeout_seconds": Maybe(int),
            "ends_by": Maybe(MOMENT),
            "run": Maybe(RUN),
        }
    ]
}
QUEUE = {
    "entries": [
        {
            "run_id": str,
            "name": str,
            "state": OneOf(("waiting", "starting", "running")),
            "position": Maybe(int),
            "priority": int,
            "submitter": str,
            "submitted_at": MOMENT,
            "waited_seconds": float,
            "gpus": int,
            "vram_need_bytes": Maybe(int),
            "vram_need_source": Maybe(str),
            "why": Maybe(str),
            "starts_next": bool,
            "gpu_uuids": [str],
            "group_id": Maybe(str),
            "params": MapOf(str),
            "dedupe_key": Maybe(str),
        }
    ],
    "groups": [{"group_id": str, "name": str, "waiting": int, "running": int, "ended": MapOf(int)}],
    "held_for": Maybe(str),
    "starvation_bound_seconds": int,
    "max_gpus_per_submitter": Maybe(int),
    "nvml_error": Maybe(str),
}
DOCUMENTS = {
    "list": LIST,
    "show": SHOW,
    "status": STATUS,
    "history": HISTORY,
    "history --run": RUN_DETAIL,
    "history --metric": METRIC_HISTORY,
    "history --group": GROUP_HISTORY,
    "gpus": GPUS,
    "doctor": DOCTOR,
    "notebook list": NOTEBOOKS,
    "queue": QUEUE,
}


def check(value: Any, schema: Any, where: str = "$") -> None:
    """AssertionError naming the path of the first value that does not fit."""
    if isinstance(schema, Maybe):
        if value is None:
            return
        schema = schema.schema
    if schema is MOMENT:
        assert isinstance(value, str), f"{where}: {value!r} is not a time"
        assert datetime.fromisoformat(value).utcoffset() == timedelta(0), f"{where}: {value!r} is not in UTC"
    elif isinstance(schema, dict):
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        assert set(value) == set(schema), f"{where}: fields {sorted(value)} are not {sorted(schema)}"
        for key, field_schema in schema.items():
            check(value[key], field_schema, f"{where}.{key}")
    elif isinstance(schema, list):
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        for index, item in enumerate(value):
            check(item, schema[0], f"{where}[{index}]")
    elif isinstance(schema, MapOf):
        assert isinstance(value, dict) and all(isinstance(v, schema.values) for v in value.values()), f"{where}: {value!r}"
    elif isinstance(schema, Either):
        problems = []
        for option in schema.schemas:
            try:
                check(value, option, where)
                return
            except AssertionError as problem:
                problems.append(str(problem))
        raise AssertionError("; ".join(problems))
    elif isinstance(schema, OneOf):
        assert value in schema.values, f"{where}: {value!r} is not one of {schema.values}"
    elif schema is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r} is not a number"
    elif schema is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not an integer"
    else:
        assert isinstance(value, schema), f"{where}: {value!r} is not {schema.__name__}"


def field_names(schema: Any) -> set[str]:
    """Every field name in a schema, nested ones too."""
    if isinstance(schema, Maybe):
        return field_names(schema.schema)
    if isinstance(schema, list):
        return field_names(schema[0])
    if isinstance(schema, dict):
        return set(schema).union(*(field_names(value) for value in schema.values()))
    return set()
