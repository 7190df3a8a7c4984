"""The tests' own checks of the Kubernetes manifests gpuagent writes: a batch/v1 CronJob,
or the v1 Secret of a job's env file.

A schema check (unknown fields, JSON types) does not see a value that is wrong for what it
means, and the API server lets some of those through: 1.20 stores a schedule of `@every
5m` (which no cron reads), a node-affinity `Gt` of "20GiB", an emptyDir medium "Ram" and
two mounts at one path, and it cannot know that a CronJob's name must leave room for the
11 characters its controller appends. These checks hold the manifest to what Kubernetes
means, so a manifest that passes them works on a cluster rather than only being stored.
Their only verdict is "a bug of the exporter's", so they live with the tests, which run
them on every manifest the export tests make (tests/unit/test_export.py), and not in the
product.

Each problem is one sentence that starts with the field's path, e.g.
`spec.jobTemplate.spec.template.spec.containers[0].volumeMounts[1]: no volume named "data"`.
"""

import base64
import binascii
import dataclasses
import json
import re
from decimal import Decimal, InvalidOperation

from gpuagent.export.kubernetes import DNS_LABEL, GPU_RESOURCE, MAX_CRONJOB_NAME
from gpuagent.jobs.schedule import CRON_FIELDS, CRON_MACROS, CRON_TZ_PREFIX, ZONE_NAME

MIN_STARTING_DEADLINE = 10  # the controller checks for missed fires every 10 s: less may never start one
QUANTITY_RESOURCES = ("cpu", "memory", "ephemeral-storage")

_DNS_SUBDOMAIN = re.compile(rf"{DNS_LABEL.pattern}(?:\.{DNS_LABEL.pattern})*")
_LABEL_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_QUANTITY = re.compile(r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>[KMGTPE]i|[eE][+-]?\d+|[mkMGTPE]?)")

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9}
_DECIMAL |= {"T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18}

# Kubernetes reads a schedule as robfig/cron's standard parser does: cron's 5 fields, names
# and macros (jobs/schedule.py), but day of week 0-6 (7 is refused) and no @every, which is
# robfig's own interval syntax and no cron's.
_CRON_FIELDS = tuple(dataclasses.replace(field, high=6) if field.name == "day-of-week" else field for field in CRON_FIELDS)
_MACROS = frozenset(CRON_MACROS)

CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
RESTART_POLICIES = ("Never", "OnFailure")
EMPTY_DIR_MEDIA = ("", "Memory")
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
NODE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
FAILURE_ACTIONS = ("FailJob", "Ignore", "Count")


def problems(document: dict) -> list[str]:
    """What is wrong with `document` (a parsed manifest); empty when nothing is."""
    found = _Problems()
    kind, version = document.get("kind"), document.get("apiVersion")
    if (kind, version) == ("CronJob", "batch/v1"):
        _cron_job(found, document)
    elif (kind, version) == ("Secret", "v1"):
        _secret(found, document)
    else:
        found.add("kind", f"{_q(version)} {_q(kind)} is not a manifest gpuagent writes (batch/v1 CronJob or v1 Secret)")
    return found.lines


def schedule_problem(schedule: object) -> str | None:
    """Why `schedule` is not a 5-field cron line Kubernetes and cron read alike; None if it is."""
    if not isinstance(schedule, str) or not schedule.strip():
        return "must be a cron line of 5 fields"
    text = schedule.strip()
    if text.startswith((CRON_TZ_PREFIX, "TZ=")):
        return f"{_q(schedule)} names its time zone inside the schedule, which Kubernetes refuses: use spec.timeZone"
    if text.startswith("@"):
        if text in _MACROS:
            return None
        return f"{_q(schedule)} is not a cron macro Kubernetes and cron both read ({', '.join(sorted(_MACROS))})"
    fields = text.split()
    if len(fields) != len(_CRON_FIELDS):
        return f"{_q(schedule)} has {len(fields)} fields: a cron line has 5 (minute hour day-of-month month day-of-week)"
    for value, cron_field in zip(fields, _CRON_FIELDS, strict=True):
        what = cron_field.name.replace("-", " ")
        problem = _cron_field_problem(value, cron_field.low, cron_field.high, cron_field.names, what in ("day of month", "day of week"))
        if problem:
            return f"{_q(schedule)}: the {what} field {_q(value)} {problem}"
    return None


def quantity_value(text: object) -> Decimal | None:
    """A Kubernetes quantity ("1Gi", "500m", "1e3") as a number; None if it is not one."""
    match = _QUANTITY.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    number, suffix = Decimal(match["number"]), match["suffix"]
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    try:
        return number.scaleb(int(suffix[1:]))
    except (InvalidOperation, ValueError):
        return None


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")


def _q(value: object) -> str:
    return json.dumps(value)


def _dict(parent: dict, key: str) -> dict:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _list(parent: dict, key: str) -> list:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, list) else []


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- documents


def _metadata(found: _Problems, document: dict, path: str, max_name: int) -> None:
    metadata = _dict(document, "metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.fullmatch(name) or len(name) > 253:
        found.add(f"{path}.name", f"{_q(name)} is not a Kubernetes name (lower-case letters, digits, '-' and '.', starting and ending alphanumeric)")
    elif len(name) > max_name:
        found.add(f"{path}.name", f"{_q(name)} is {len(name)} characters: at most {max_name} here")
    _labels(found, metadata, f"{path}.labels")


def _labels(found: _Problems, metadata: dict, path: str) -> None:
    for key, value in _dict(metadata, "labels").items():
        prefix, _, name = key.rpartition("/")
        if (prefix and (not _DNS_SUBDOMAIN.fullmatch(prefix) or len(prefix) > 253)) or not _LABEL_NAME.fullmatch(name) or len(name) > 63:
            found.add(f"{path}[{_q(key)}]", "is not a label key ([prefix/]name, the name at most 63 letters, digits, '-', '_' or '.')")
        if not isinstance(value, str) or (value and not _LABEL_NAME.fullmatch(value)) or len(value) > 63:
            found.add(f"{path}[{_q(key)}]", f"{_q(value)} is not a label value (at most 63 letters, digits, '-', '_' or '.')")


def _cron_job(found: _Problems, document: dict) -> None:
    _metadata(found, document, "metadata", MAX_CRONJOB_NAME)
    spec = _dict(document, "spec")
    problem = schedule_problem(spec.get("schedule"))
    if problem:
        found.add("spec.schedule", problem)
    if "timeZone" in spec:
        zone = spec["timeZone"]
        if not isinstance(zone, str) or not ZONE_NAME.fullmatch(zone) or zone.lower() == "local":
            found.add("spec.timeZone", f'{_q(zone)} is not a time zone name of the IANA database (e.g. "Europe/Berlin", "UTC")')
    _one_of(found, spec, "concurrencyPolicy", CONCURRENCY_POLICIES, "spec")
    if "startingDeadlineSeconds" in spec and not _at_least(spec["startingDeadlineSeconds"], MIN_STARTING_DEADLINE):
        found.add(
            "spec.startingDeadlineSeconds",
            f"{_q(spec['startingDeadlineSeconds'])}: must be at least {MIN_STARTING_DEADLINE} (the controller looks every 10 s, so a shorter deadline may never start a Job)",
        )
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        _non_negative(found, spec, key, "spec")
    template = _dict(spec, "jobTemplate")
    _labels(found, _dict(template, "metadata"), "spec.jobTemplate.metadata.labels")
    _job_spec(found, _dict(template, "spec"), "spec.jobTemplate.spec")


def _secret(found: _Problems, document: dict) -> None:
    _metadata(found, document, "metadata", 253)
    for key, value in _dict(document, "data").items():
        path = f"data[{_q(key)}]"
        if not _SECRET_KEY.fullmatch(key):
            found.add(path, "is not a Secret key (letters, digits, '-', '_' and '.')")
        elif not _ENV_NAME.fullmatch(key):
            found.add(path, "is not an environment variable name: envFrom would leave it out")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            found.add(path, "is not base64")


# -------------------------------------------------------------------- Job and its pod


def _job_spec(found: _Problems, spec: dict, path: str) -> None:
    _non_negative(found, spec, "backoffLimit", path)
    _positive(found, spec, "activeDeadlineSeconds", path)
    for key in ("completions", "parallelism", "ttlSecondsAfterFinished"):
        _non_negative(found, spec, key, path)
    template = _dict(spec, "template")
    _labels(found, _dict(template, "metadata"), f"{path}.template.metadata.labels")
    pod = _dict(template, "spec")
    _pod_spec(found, pod, f"{path}.template.spec")
    if "podFailurePolicy" in spec:
        _pod_failure_policy(found, _dict(spec, "podFailurePolicy"), pod, f"{path}.podFailurePolicy")


def _pod_failure_policy(found: _Problems, policy: dict, pod: dict, path: str) -> None:
    if pod.get("restartPolicy") != "Never":
        found.add(path, 'needs the pod template\'s restartPolicy "Never"')
    containers = {container.get("name") for container in _list(pod, "containers") if isinstance(container, dict)}
    for number, rule in enumerate(_list(policy, "rules")):
        rule_path = f"{path}.rules[{number}]"
        _one_of(found, rule, "action", FAILURE_ACTIONS, rule_path, required=True)
        codes = _dict(rule, "onExitCodes")
        if not codes:
            continue
        codes_path = f"{rule_path}.onExitCodes"
        if "containerName" in codes and codes["containerName"] not in containers:
            found.add(f"{codes_path}.containerName", f"no container named {_q(codes['containerName'])}")
        _one_of(found, codes, "operator", ("In", "NotIn"), codes_path, required=True)
        values = codes.get("values")
        if not isinstance(values, list) or not values or not all(_is_int(value) for value in values):
            found.add(f"{codes_path}.values", f"{_q(values)}: must be a list of exit codes")
        elif codes.get("operator") == "In" and 0 in values:
            found.add(f"{codes_path}.values", "0 is success, which never fails a pod")


def _pod_spec(found: _Problems, pod: dict, path: str) -> None:
    _one_of(found, pod, "restartPolicy", RESTART_POLICIES, path, required=True)
    _positive(found, pod, "activeDeadlineSeconds", path)
    _non_negative(found, pod, "terminationGracePeriodSeconds", path)
    _security_context(found, _dict(pod, "securityContext"), f"{path}.securityContext")
    volumes = _volumes(found, _list(pod, "volumes"), f"{path}.volumes")
    containers = _list(pod, "containers")
    if not containers:
        found.add(f"{path}.containers", "a pod needs a container")
    names: set[str] = set()
    for number, container in enumerate(containers):
        container_path = f"{path}.containers[{number}]"
        _unique_name(found, container.get("name"), names, container_path, "container")
        _container(found, container, volumes, container_path)
    _affinity(found, _dict(_dict(pod, "affinity"), "nodeAffinity"), f"{path}.affinity.nodeAffinity")


def _unique_name(found: _Problems, name: object, names: set[str], path: str, what: str) -> None:
    """A container's or volume's name: a DNS label, not one an earlier one has."""
    if not isinstance(name, str) or not DNS_LABEL.fullmatch(name) or len(name) > 63:
        found.add(f"{path}.name", f"{_q(name)} is not a {what} name (a DNS label)")
    elif name in names:
        found.add(f"{path}.name", f"a second {what} named {_q(name)}")
    names.add(name)


def _security_context(found: _Problems, context: dict, path: str) -> None:
    for key in ("runAsUser", "runAsGroup"):
        if key in context and not _at_least(context[key], 0):
            found.add(f"{path}.{key}", f"{_q(context[key])}: must be a numeric id, 0 or more")


def _volumes(found: _Problems, volumes: list, path: str) -> set[str]:
    """The names of the pod's volumes, each checked."""
    names: set[str] = set()
    for number, volume in enumerate(volumes):
        volume_path = f"{path}[{number}]"
        _unique_name(found, volume.get("name"), names, volume_path, "volume")
        sources = sorted(key for key in volume if key != "name")
        if len(sources) != 1:
            found.add(volume_path, f"a volume has exactly one source, not {sources}")
        if "emptyDir" in volume:
            empty = _dict(volume, "emptyDir")
            if empty.get("medium", "") not in EMPTY_DIR_MEDIA:
                found.add(f"{volume_path}.emptyDir.medium", f'{_q(empty.get("medium"))}: must be "" (the node\'s disk) or "Memory"')
            if "sizeLimit" in empty:
                _quantity(found, empty["sizeLimit"], f"{volume_path}.emptyDir.sizeLimit")
        if "hostPath" in volume:
            host = _dict(volume, "hostPath")
            if not str(host.get("path", "")).startswith("/"):
                found.add(f"{volume_path}.hostPath.path", f"{_q(host.get('path'))}: must be an absolute path")
            _one_of(found, host, "type", HOST_PATH_TYPES, f"{volume_path}.hostPath")
    return names


def _container(found: _Problems, container: dict, volumes: set[str], path: str) -> None:
    if not isinstance(container.get("image"), str) or not container["image"].strip():
        found.add(f"{path}.image", "a container needs an image")
    if "workingDir" in container and not str(container["workingDir"]).startswith("/"):
        found.add(f"{path}.workingDir", f"{_q(container['workingDir'])}: must be an absolute path")
    for number, variable in enumerate(_list(container, "env")):
        name = variable.get("name")
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            found.add(
                f"{path}.env[{number}].name", f"{_q(name)} is not an environment variable name (letters, digits, '_', '-', '.'; not a digit first)"
            )
        if ("value" in variable) == ("valueFrom" in variable):
            found.add(f"{path}.env[{number}]", "needs a value or a valueFrom, not both or neither")
    for number, source in enumerate(_list(container, "envFrom")):
        reference = _dict(source, "secretRef") or _dict(source, "configMapRef")
        if not _DNS_SUBDOMAIN.fullmatch(str(reference.get("name", ""))):
            found.add(f"{path}.envFrom[{number}]", f"{_q(reference.get('name'))} is not the name of a Secret or ConfigMap")
    _resources(found, _dict(container, "resources"), f"{path}.resources")
    _security_context(found, _dict(container, "securityContext"), f"{path}.securityContext")
    paths: set[str] = set()
    for number, mount in enumerate(_list(container, "volumeMounts")):
        mount_path, target = f"{path}.volumeMounts[{number}]", mount.get("mountPath")
        if mount.get("name") not in volumes:
            found.add(mount_path, f"no volume named {_q(mount.get('name'))}")
        if not isinstance(target, str) or not target.startswith("/"):
            found.add(f"{mount_path}.mountPath", f"{_q(target)}: must be an absolute path")
        elif target.rstrip("/") in paths:
            found.add(f"{mount_path}.mountPath", f"{_q(target)} is mounted twice")
        paths.add(str(target).rstrip("/"))


def _resources(found: _Problems, resources: dict, path: str) -> None:
    limits, requests = _dict(resources, "limits"), _dict(resources, "requests")
    for part, values in (("limits", limits), ("requests", requests)):
        for resource, value in values.items():
            if resource in QUANTITY_RESOURCES:
                _quantity(found, value, f"{path}.{part}[{_q(resource)}]")
    if GPU_RESOURCE in limits:
        gpus = limits[GPU_RESOURCE]
        if not isinstance(gpus, str) or not gpus.isdigit() or int(gpus) < 1:
            found.add(f"{path}.limits[{_q(GPU_RESOURCE)}]", f"{_q(gpus)}: GPUs are whole, 1 or more")
    if GPU_RESOURCE in requests and requests[GPU_RESOURCE] != limits.get(GPU_RESOURCE):
        found.add(f"{path}.requests[{_q(GPU_RESOURCE)}]", "GPUs are requested by their limit: a request, if any, equals it")
    for resource in QUANTITY_RESOURCES:
        request, limit = quantity_value(requests.get(resource)), quantity_value(limits.get(resource))
        if request is not None and limit is not None and request > limit:
            found.add(f"{path}.requests[{_q(resource)}]", f"{_q(requests[resource])} is more than its limit {_q(limits[resource])}")


def _quantity(found: _Problems, value: object, path: str) -> None:
    number = quantity_value(value)
    if number is None:
        found.add(path, f'{_q(value)} is not a Kubernetes quantity (e.g. "512Mi", "2Gi", "500m")')
    elif number < 0:
        found.add(path, f"{_q(value)}: must not be negative")


def _affinity(found: _Problems, affinity: dict, path: str) -> None:
    required = _dict(affinity, "requiredDuringSchedulingIgnoredDuringExecution")
    terms = [
        (f"{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{n}]", term)
        for n, term in enumerate(_list(required, "nodeSelectorTerms"))
    ]
    preferred = _list(affinity, "preferredDuringSchedulingIgnoredDuringExecution")
    terms += [
        (f"{path}.preferredDuringSchedulingIgnoredDuringExecution[{n}].preference", _dict(term, "preference")) for n, term in enumerate(preferred)
    ]
    for term_path, term in terms:
        for number, expression in enumerate(_list(term, "matchExpressions")):
            _node_requirement(found, expression, f"{term_path}.matchExpressions[{number}]")


def _node_requirement(found: _Problems, expression: dict, path: str) -> None:
    key, operator, values = expression.get("key", ""), expression.get("operator"), expression.get("values", [])
    name = str(key).rpartition("/")[2]
    if not _LABEL_NAME.fullmatch(name):
        found.add(f"{path}.key", f"{_q(key)} is not a label key")
    if operator not in NODE_OPERATORS:
        found.add(f"{path}.operator", f"{_q(operator)}: must be one of {', '.join(NODE_OPERATORS)}")
    elif operator in ("Gt", "Lt"):
        if not isinstance(values, list) or len(values) != 1 or not re.fullmatch(r"-?\d+", str(values[0])):
            found.add(f"{path}.values", f'{_q(values)}: {operator} compares with one whole number, e.g. ["20479"] (no units)')
    elif operator in ("Exists", "DoesNotExist") and values:
        found.add(f"{path}.values", f"{operator} takes no values")
    elif operator in ("In", "NotIn") and not values:
        found.add(f"{path}.values", f"{operator} needs at least one value")


# --------------------------------------------------------------------------- values


def _one_of(found: _Problems, parent: dict, key: str, allowed: tuple[str, ...], path: str, required: bool = False) -> None:
    if key not in parent:
        if required:
            found.add(f"{path}.{key}", f"missing: one of {', '.join(allowed)}")
        return
    if parent[key] not in allowed:
        found.add(f"{path}.{key}", f"{_q(parent[key])}: must be one of {', '.join(_q(value) for value in allowed)}")


def _at_least(value: object, low: int) -> bool:
    return _is_int(value) and value >= low


def _non_negative(found: _Problems, parent: dict, key: str, path: str) -> None:
    if key in parent and not _at_least(parent[key], 0):
        found.add(f"{path}.{key}", f"{_q(parent[key])}: must be a whole number, 0 or more")


def _positive(found: _Problems, parent: dict, key: str, path: str) -> None:
    if key in parent and not _at_least(parent[key], 1):
        found.add(f"{path}.{key}", f"{_q(parent[key])}: must be a whole number of seconds, 1 or more")


def _cron_field_problem(field: str, low: int, high: int, names: dict[str, int], question_mark: bool) -> str | None:
    """Why one field of a cron line is not one robfig/cron reads as the same set as cron."""
    for part in field.split(","):
        if question_mark and part == "?":
            continue
        span, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            return f"has step {_q(step)}: a step is a whole number, 1 or more"
        if span == "*":
            continue
        first, dash, last = span.partition("-")
        bounds = [_cron_value(first, names), _cron_value(last, names) if dash else None]
        if bounds[0] is None or (dash and bounds[1] is None):
            return f"has {_q(part)}, which is not a number{', a name' if names else ''} or a range"
        start, end = bounds[0], bounds[1] if dash else bounds[0]
        if start < low or end > high:
            return f"has {_q(part)}: it runs from {low} to {high}"
        if start > end:
            return f"has the range {_q(span)}, which ends before it starts"
    return None


def _cron_value(text: str, names: dict[str, int]) -> int | None:
    if text.isdigit() and text.isascii():
        return int(text)
    return names.get(text.lower())
