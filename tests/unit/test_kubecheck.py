"""tests/support/kubecheck.py: a manifest like the exporter's has no problems, and each
check, on a manifest broken in just that way, names the field and what is wrong."""

import copy

import pytest

from tests.support.kubecheck import problems, quantity_value, schedule_problem

POD = "spec.jobTemplate.spec.template.spec"
CONTAINER = f"{POD}.containers[0]"


def valid_cron_job() -> dict:
    """Every part the exporter writes, filled in as it fills them in."""
    container = {
        "name": "job",
        "image": "registry.example/train:1",
        "command": ["sh", "-c", 'exec "$@"', "gpuagent"],
        "args": ["python", "train.py"],
        "workingDir": "/data",
        "env": [{"name": "SEED", "value": "1"}, {"name": "my.var-2", "value": ""}],
        "envFrom": [{"secretRef": {"name": "nightly-env"}}],
        "resources": {
            "limits": {"nvidia.com/gpu": "2", "memory": "16Gi", "cpu": "500m", "ephemeral-storage": "1e9"},
            "requests": {"memory": "16Gi", "cpu": "0.5"},
        },
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}, {"name": "volume-1", "mountPath": "/data", "readOnly": True}],
    }
    pod = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": 3660,
        "terminationGracePeriodSeconds": 30,
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["20479"]}]}]
                }
            }
        },
        "containers": [container],
        "volumes": [
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
            {"name": "volume-1", "hostPath": {"path": "/srv/data", "type": "Directory"}},
        ],
    }
    job = {
        "backoffLimit": 2,
        "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "job", "operator": "In", "values": [75]}}]},
        "template": {"metadata": {"labels": {"app.kubernetes.io/managed-by": "gpuagent"}}, "spec": pod},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly-train", "labels": {"app.kubernetes.io/managed-by": "gpuagent"}},
        "spec": {
            "schedule": "0 2 * * *",
            "timeZone": "Europe/Berlin",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 120,
            "suspend": False,
            "jobTemplate": {"spec": job},
        },
    }


def valid_secret() -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nightly-env"}, "type": "Opaque", "data": {"TOKEN": "czNjcjN0"}}


def at(document: dict, path: str):
    """The object at a dotted path of `document`, where `[n]` indexes a list."""
    node = document
    for part in filter(None, path.replace("[", ".").replace("]", "").split(".")):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


def test_a_manifest_as_the_exporter_writes_it_has_no_problems():
    assert problems(valid_cron_job()) == []
    assert problems(valid_secret()) == []


def test_the_unchanged_optional_parts_may_be_left_out():
    document = valid_cron_job()
    for key in ("timeZone", "startingDeadlineSeconds", "suspend"):
        del document["spec"][key]
    pod = at(document, POD)
    del pod["affinity"], pod["volumes"], pod["containers"][0]["volumeMounts"], pod["containers"][0]["resources"]
    del document["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]

    assert problems(document) == []


def _set(path: str, key: str, value):
    def change(document: dict) -> None:
        at(document, path)[key] = value

    return change


def _delete(path: str, key: str):
    def change(document: dict) -> None:
        del at(document, path)[key]

    return change


def _append(path: str, item):
    def change(document: dict) -> None:
        at(document, path).append(item)

    return change


def _both(*changes):
    def change(document: dict) -> None:
        for each in changes:
            each(document)

    return change


NO_FAILURE_POLICY = _delete("spec.jobTemplate.spec", "podFailurePolicy")  # it names the container and needs Never
RULE_CODES = "spec.jobTemplate.spec.podFailurePolicy.rules[0].onExitCodes"

BROKEN = [
    ("name too long for a Job's suffix", _set("metadata", "name", "n" * 53), "metadata.name", "53 characters: at most 52"),
    ("name not a DNS name", _set("metadata", "name", "Nightly_Train"), "metadata.name", "is not a Kubernetes name"),
    ("label value with a space", _set("metadata.labels", "team", "ml ops"), 'metadata.labels["team"]', "is not a label value"),
    ("four-field schedule", _set("spec", "schedule", "0 2 * *"), "spec.schedule", "has 4 fields"),
    ("six-field schedule", _set("spec", "schedule", "0 0 2 * * *"), "spec.schedule", "has 6 fields"),
    ("@every", _set("spec", "schedule", "@every 5m"), "spec.schedule", "is not a cron macro"),
    ("@reboot", _set("spec", "schedule", "@reboot"), "spec.schedule", "is not a cron macro"),
    ("CRON_TZ in the schedule", _set("spec", "schedule", "CRON_TZ=UTC 0 2 * * *"), "spec.schedule", "use spec.timeZone"),
    ("minute 60", _set("spec", "schedule", "60 2 * * *"), "spec.schedule", 'the minute field "60" has "60": it runs from 0 to 59'),
    ("hour 24", _set("spec", "schedule", "0 24 * * *"), "spec.schedule", "the hour field"),
    ("day of month 0", _set("spec", "schedule", "0 2 0 * *"), "spec.schedule", "the day of month field"),
    ("month 13", _set("spec", "schedule", "0 2 * 13 *"), "spec.schedule", "the month field"),
    ("day of week 7", _set("spec", "schedule", "0 2 * * 7"), "spec.schedule", "it runs from 0 to 6"),
    ("a day name cron lacks", _set("spec", "schedule", "0 2 * * Monday"), "spec.schedule", "not a number, a name or a range"),
    ("a backwards range", _set("spec", "schedule", "0 5-2 * * *"), "spec.schedule", "ends before it starts"),
    ("step 0", _set("spec", "schedule", "*/0 * * * *"), "spec.schedule", "a step is a whole number, 1 or more"),
    ("an empty list item", _set("spec", "schedule", "1,,2 * * * *"), "spec.schedule", "is not a number"),
    ("a time zone with a space", _set("spec", "timeZone", "Central European"), "spec.timeZone", "is not a time zone name"),
    ("the time zone Local", _set("spec", "timeZone", "Local"), "spec.timeZone", "is not a time zone name"),
    ("concurrencyPolicy", _set("spec", "concurrencyPolicy", "forbid"), "spec.concurrencyPolicy", "must be one of"),
    ("starting deadline under 10 s", _set("spec", "startingDeadlineSeconds", 5), "spec.startingDeadlineSeconds", "at least 10"),
    ("negative backoffLimit", _set("spec.jobTemplate.spec", "backoffLimit", -1), "spec.jobTemplate.spec.backoffLimit", "0 or more"),
    ("Job deadline 0", _set("spec.jobTemplate.spec", "activeDeadlineSeconds", 0), "spec.jobTemplate.spec.activeDeadlineSeconds", "1 or more"),
    ("pod deadline 0", _set(POD, "activeDeadlineSeconds", 0), f"{POD}.activeDeadlineSeconds", "1 or more"),
    ("restartPolicy Always", _both(NO_FAILURE_POLICY, _set(POD, "restartPolicy", "Always")), f"{POD}.restartPolicy", "must be one of"),
    ("no restartPolicy", _both(NO_FAILURE_POLICY, _delete(POD, "restartPolicy")), f"{POD}.restartPolicy", "missing"),
    ("a failure policy with OnFailure", _set(POD, "restartPolicy", "OnFailure"), "spec.jobTemplate.spec.podFailurePolicy", 'restartPolicy "Never"'),
    (
        "a failure policy on another container",
        _set(RULE_CODES, "containerName", "main"),
        f"{RULE_CODES}.containerName",
        'no container named "main"',
    ),
    (
        "a failure policy on exit code 0",
        _set(RULE_CODES, "values", [0]),
        f"{RULE_CODES}.values",
        "0 is success",
    ),
    (
        "memory in bytes with a B",
        _set(f"{CONTAINER}.resources.limits", "memory", "16GiB"),
        f'{CONTAINER}.resources.limits["memory"]',
        "not a Kubernetes quantity",
    ),
    (
        "cpu with a space",
        _set(f"{CONTAINER}.resources.requests", "cpu", "0.5 cores"),
        f'{CONTAINER}.resources.requests["cpu"]',
        "not a Kubernetes quantity",
    ),
    (
        "negative memory",
        _set(f"{CONTAINER}.resources.requests", "memory", "-1Gi"),
        f'{CONTAINER}.resources.requests["memory"]',
        "must not be negative",
    ),
    (
        "ephemeral storage",
        _set(f"{CONTAINER}.resources.limits", "ephemeral-storage", "1ki"),
        f'{CONTAINER}.resources.limits["ephemeral-storage"]',
        "quantity",
    ),
    (
        "request over its limit",
        _set(f"{CONTAINER}.resources.requests", "memory", "17Gi"),
        f'{CONTAINER}.resources.requests["memory"]',
        "more than its limit",
    ),
    ("fractional GPUs", _set(f"{CONTAINER}.resources.limits", "nvidia.com/gpu", "0.5"), f'{CONTAINER}.resources.limits["nvidia.com/gpu"]', "whole"),
    ("zero GPUs", _set(f"{CONTAINER}.resources.limits", "nvidia.com/gpu", "0"), f'{CONTAINER}.resources.limits["nvidia.com/gpu"]', "1 or more"),
    (
        "a GPU request unlike its limit",
        _set(f"{CONTAINER}.resources.requests", "nvidia.com/gpu", "1"),
        f'{CONTAINER}.resources.requests["nvidia.com/gpu"]',
        "equals it",
    ),
    ("shm sizeLimit", _set(f"{POD}.volumes[0].emptyDir", "sizeLimit", "256MB!"), f"{POD}.volumes[0].emptyDir.sizeLimit", "not a Kubernetes quantity"),
    ("emptyDir medium Ram", _set(f"{POD}.volumes[0].emptyDir", "medium", "Ram"), f"{POD}.volumes[0].emptyDir.medium", '"Ram": must be "" '),
    ("relative hostPath", _set(f"{POD}.volumes[1].hostPath", "path", "srv/data"), f"{POD}.volumes[1].hostPath.path", "absolute"),
    ("hostPath type", _set(f"{POD}.volumes[1].hostPath", "type", "Dir"), f"{POD}.volumes[1].hostPath.type", "must be one of"),
    ("a volume with two sources", _set(f"{POD}.volumes[1]", "emptyDir", {}), f"{POD}.volumes[1]", "exactly one source"),
    (
        "two volumes of one name",
        _append(f"{POD}.volumes", {"name": "dshm", "emptyDir": {}}),
        f"{POD}.volumes[2].name",
        'a second volume named "dshm"',
    ),
    ("a mount of a missing volume", _set(f"{CONTAINER}.volumeMounts[1]", "name", "data"), f"{CONTAINER}.volumeMounts[1]", 'no volume named "data"'),
    (
        "two mounts at one path",
        _set(f"{CONTAINER}.volumeMounts[1]", "mountPath", "/dev/shm/"),
        f"{CONTAINER}.volumeMounts[1].mountPath",
        "mounted twice",
    ),
    ("a relative mount path", _set(f"{CONTAINER}.volumeMounts[1]", "mountPath", "data"), f"{CONTAINER}.volumeMounts[1].mountPath", "absolute"),
    ("a relative workingDir", _set(CONTAINER, "workingDir", "data"), f"{CONTAINER}.workingDir", "absolute"),
    (
        "Gt with a unit",
        _set(
            f"{POD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]",
            "values",
            ["20GiB"],
        ),
        f"{POD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
        "one whole number",
    ),
    (
        "Gt with two values",
        _set(
            f"{POD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]",
            "values",
            ["1", "2"],
        ),
        f"{POD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
        "one whole number",
    ),
    (
        "a node operator",
        _set(
            f"{POD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]",
            "operator",
            "GreaterThan",
        ),
        f"{POD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
        "must be one of",
    ),
    ("an env name with a space", _set(f"{CONTAINER}.env[0]", "name", "MY VAR"), f"{CONTAINER}.env[0].name", "is not an environment variable name"),
    (
        "an env name starting with a digit",
        _set(f"{CONTAINER}.env[1]", "name", "1A"),
        f"{CONTAINER}.env[1].name",
        "is not an environment variable name",
    ),
    ("an env entry without a value", _delete(f"{CONTAINER}.env[0]", "value"), f"{CONTAINER}.env[0]", "needs a value"),
    (
        "an envFrom of no name",
        _set(f"{CONTAINER}.envFrom[0].secretRef", "name", "Nightly Env"),
        f"{CONTAINER}.envFrom[0]",
        "not the name of a Secret",
    ),
    ("a negative user", _set(f"{POD}.securityContext", "runAsUser", -1), f"{POD}.securityContext.runAsUser", "numeric id"),
    ("a named group", _set(f"{POD}.securityContext", "runAsGroup", "staff"), f"{POD}.securityContext.runAsGroup", "numeric id"),
    ("a container's own user", _set(CONTAINER, "securityContext", {"runAsUser": 1.5}), f"{CONTAINER}.securityContext.runAsUser", "numeric id"),
    (
        "a container name",
        _both(_set(CONTAINER, "name", "Job"), _set(RULE_CODES, "containerName", "Job")),
        f"{CONTAINER}.name",
        "is not a container name",
    ),
    ("two containers of one name", _append(f"{POD}.containers", {"name": "job", "image": "x"}), f"{POD}.containers[1].name", "a second container"),
    ("no image", _set(CONTAINER, "image", ""), f"{CONTAINER}.image", "needs an image"),
    ("no containers", _both(NO_FAILURE_POLICY, _set(POD, "containers", [])), f"{POD}.containers", "needs a container"),
    ("the wrong apiVersion", _set("", "apiVersion", "batch/v1beta1"), "kind", "is not a manifest gpuagent writes"),
]


@pytest.mark.parametrize(("change", "field", "words"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_a_manifest_broken_in_one_way_has_that_one_problem(change, field, words):
    document = valid_cron_job()
    change(document)

    found = problems(document)

    assert len(found) == 1, found
    assert found[0].startswith(f"{field}: "), found
    assert words in found[0]


SECRET_BROKEN = [
    ("a key no Secret has", "MY KEY", "czNjcjN0", "is not a Secret key"),
    ("a key envFrom leaves out", "1TOKEN", "czNjcjN0", "envFrom would leave it out"),
    ("a value not base64", "TOKEN", "s3cr3t!", "is not base64"),
]


@pytest.mark.parametrize(("key", "value", "words"), [case[1:] for case in SECRET_BROKEN], ids=[case[0] for case in SECRET_BROKEN])
def test_a_broken_secret_has_that_one_problem(key, value, words):
    document = valid_secret()
    document["data"] = {key: value}

    found = problems(document)

    assert len(found) == 1, found
    assert found[0].startswith(f'data["{key}"]: ')
    assert words in found[0]


def test_a_secret_name_is_checked_like_any_other():
    document = valid_secret()
    document["metadata"]["name"] = "nightly_env"

    assert [p.split(":")[0] for p in problems(document)] == ["metadata.name"]


def test_every_problem_is_reported_not_only_the_first():
    document = valid_cron_job()
    document["spec"]["schedule"] = "@every 1h"
    at(document, POD)["restartPolicy"] = "Always"
    at(document, CONTAINER)["resources"]["limits"]["nvidia.com/gpu"] = "1.5"

    assert [p.split(":")[0] for p in problems(document)] == [
        "spec.schedule",
        f"{POD}.restartPolicy",
        f'{CONTAINER}.resources.limits["nvidia.com/gpu"]',
        "spec.jobTemplate.spec.podFailurePolicy",
    ]


@pytest.mark.parametrize(
    "schedule",
    ["* * * * *", "0 2 * * *", "*/15 9-17 * * mon-fri", "0 0 1,15 jan,JUL *", "5/20 0 ? * 0-6/2", "30 4 * * SUN", "@daily", "@weekly", "@annually"],
)
def test_schedules_cron_and_kubernetes_read_alike_pass(schedule):
    assert schedule_problem(schedule) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("1Gi", 2**30), ("256Mi", 256 * 2**20), ("500m", 0.5), ("0.5", 0.5), (".5", 0.5), ("1e3", 1000), ("2k", 2000), ("1E", 10**18), ("+1", 1)],
)
def test_quantities_read_as_kubernetes_reads_them(text, value):
    assert quantity_value(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["1GiB", "1ki", "1 Gi", "1e", ".", "", "Gi", "1.5.2"])
def test_what_is_not_a_quantity(text):
    assert quantity_value(text) is None


def test_the_examples_are_not_changed_by_checking():
    document = valid_cron_job()
    before = copy.deepcopy(document)
    problems(document)
    assert document == before
