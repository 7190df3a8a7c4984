"""`gpuagent export --to kubernetes`, in two parts.

The manifest as shipped (batch/v1, spec.timeZone, podFailurePolicy) passes kubernetes-
validate's strict schemas of Kubernetes 1.29 and of the newest one kubernetes-validate
knows, and the project's own checks (tests/support/kubecheck.py). No API server of a
current Kubernetes sees it: none can be built here (tests/support/kube.py says why).

The COMPATIBILITY check, against a real Kubernetes 1.20 control plane: the manifest,
rewritten as 1.20 takes it (batch/v1beta1, no timeZone, no podFailurePolicy; nothing
else), passes the API server's own validation, and its CronJob controller makes Jobs
from it that the job files' settings describe. Every test that touches that server is
named test_compatibility_1_20_*.

Every CronJob made for real runs every minute, and all are created by one fixture before
the first wait, so the whole module waits for one minute boundary, not one each.
"""

import base64
import time
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from gpuagent.jobs.catalog import load_job
from tests.support import kubecheck
from tests.support.agent import AgentHome
from tests.support.kube import REWRITTEN, KubeCluster, KubeRefused, for_kubernetes_1_20

IMAGE = "gpuagent-test/busybox:latest"
EVERY_MINUTE = {"cron": "* * * * *"}
PROBE = "probe"
LONGEST = "n" * 52  # the longest name a CronJob may have
SUSPENDED = "suspended"
DRY_RUN = "dry-run"  # the namespace of the dry runs: the same names exist for real in the default one
# The schemas the shipped manifest is held to, in strict mode: the oldest whose published
# schema it passes, and the newest kubernetes-validate knows. spec.timeZone is GA from
# 1.27, but 1.27's and 1.28's schemas mark a podFailurePolicy rule's onPodConditions as
# required, by mistake (kubernetes#120204: a rule takes onExitCodes or onPodConditions,
# as their servers' validation says), and the exporter's rule has onExitCodes alone.
SCHEMA_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

# A spread of jobs that between them give every setting Kubernetes can take a value other
# than its default, and every kind of schedule. Those that run every minute are created
# for real; the others go through the server's validation only.
JOBS = {
    "full": (
        EVERY_MINUTE,
        dict(
            gpus=1,
            memory="1g",
            cpus=0.5,
            shm_size="256m",
            volumes=["{data}:/data:ro", "{config}:/etc/learner.yaml:ro"],  # a directory and a single file
            workdir="/data",
            user="1000:1000",
            env=["A=1"],
            env_file="{env_file}",
            timeout="1h",
            retries=2,
            min_free_vram="20GiB",
        ),
        ["sh", "-c", "echo hi"],
    ),
    "second_one": (
        EVERY_MINUTE,
        dict(gpus=2, memory="512m", cpus=2, volumes=["{data}:/data", "{scratch}:/scratch:ro"], env=["B=2", "C=three words"], stop_grace="30s"),
        ["python3", "-c", "print(1)"],
    ),
    "zoned": (
        {"at": "02:00", "tz": "Europe/Berlin"},
        dict(
            persistent=False,
            random_delay="10m",
            max_gpu_util=50,
            vram_policy="skip",
            vram_wait="5m",
            min_free_vram="8GiB",
            gpu_ids=["0", "1"],
            exclusive=True,
            retries=3,
            retry_delay="5m",
            timeout="30m",
            cpus=1.2345,
            user="0",
        ),
        ["python3", "train.py"],
    ),
    "weekly": ({"on": "Mon 03:00"}, {}, ["true"]),
    "six-hourly": ({"every": "6h"}, {}, ["true"]),
    LONGEST: (EVERY_MINUTE, {}, ["true"]),
}
REAL = [name for name, (schedule, _, _) in JOBS.items() if schedule is EVERY_MINUTE]


def hand_written_cronjob(name: str, schedule: str) -> dict:
    return {
        "apiVersion": "batch/v1beta1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}}}},
        },
    }


def kubernetes_name(job: str) -> str:
    return job.replace("_", "-")


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory):
    with KubeCluster(tmp_path_factory.mktemp("kube")) as cluster:
        cluster.create_namespace(DRY_RUN)
        yield cluster


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> AgentHome:
    root = tmp_path_factory.mktemp("export-kubernetes")
    places = {"data": root / "data", "scratch": root / "scratch", "env_file": root / "full.env", "config": root / "learner.yaml"}
    places["config"].write_text("lr: 0.1\n")
    places["data"].mkdir()
    places["scratch"].mkdir()
    places["env_file"].write_text("# the token\nTOKEN=s3cret\nDB_URL=postgres://db/x?a=1\n")
    home = AgentHome(root / "home")
    for name, (schedule, options, command) in JOBS.items():
        filled = {key: _fill(value, places) for key, value in options.items()}
        home.write_job(name, IMAGE, command, schedule=schedule, **filled)
    home.write_job(SUSPENDED, IMAGE, ["true"], schedule=EVERY_MINUTE, enabled=False)
    return home


def _fill(value, places: dict[str, Path]):
    if isinstance(value, list):
        return [_fill(item, places) for item in value]
    return value.format(**places) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def exported(home: AgentHome, tmp_path_factory) -> dict[str, list[dict]]:
    """Each job's documents, by job name, as `export --all` wrote them; under "full+secret"
    the Secret and CronJob of `export full --with-secret`."""
    out = tmp_path_factory.mktemp("manifests")
    result = home.run("export", "--all", "--to", "kubernetes", "-o", str(out / "all"))
    assert result.returncode == 0, result.stderr
    documents = {path.stem: list(yaml.safe_load_all(path.read_text())) for path in (out / "all").iterdir()}
    assert sorted(documents) == sorted([*JOBS, SUSPENDED])
    result = home.run("export", "full", "--to", "kubernetes", "--with-secret", "-o", str(out / "full.yaml"))
    assert result.returncode == 0, result.stderr
    documents["full+secret"] = list(yaml.safe_load_all((out / "full.yaml").read_text()))
    return documents


def suspended_cron_job(home: AgentHome) -> dict:
    """The export of a paused job (`enabled = false` in its file, as `disable` writes it),
    made by the command from the file alone, as for every other job."""
    result = home.run("export", "kubernetes", SUSPENDED)
    assert result.returncode == 0, result.stderr
    (document,) = yaml.safe_load_all(result.stdout)
    assert document["spec"]["suspend"] is True
    return document


@pytest.fixture(scope="module")
def created(kube_cluster: KubeCluster, exported, home) -> KubeCluster:
    """The cluster once every CronJob that runs every minute exists: the hand-written
    probe, the exported ones (with full's Secret), the suspended one. All within one
    minute, so the minute that fires the others would have fired the suspended one too."""
    if time.time() % 60 > 57:
        time.sleep(60 - time.time() % 60 + 0.5)
    kube_cluster.create(hand_written_cronjob(PROBE, "* * * * *"))
    secret, _ = exported["full+secret"]
    kube_cluster.create(secret)
    for name in REAL:
        kube_cluster.create(for_kubernetes_1_20(exported[name][0]))
    kube_cluster.create(for_kubernetes_1_20(suspended_cron_job(home)))
    return kube_cluster


# ------------------------------------------------------- the 1.20 engine, by hand


def test_compatibility_1_20_server_refuses_a_four_field_schedule_with_its_own_message(kube_cluster: KubeCluster):
    """The engine itself, before any export: its validation answers in words."""
    with pytest.raises(KubeRefused) as refused:
        kube_cluster.create(hand_written_cronjob("four-fields", "* * * *"), dry_run=True)

    assert refused.value.status == 422
    assert "spec.schedule" in refused.value.message
    assert "Expected exactly 5 fields, found 4" in refused.value.message


def test_compatibility_1_20_cronjob_controller_makes_a_job_of_a_hand_written_cronjob(created: KubeCluster):
    job = created.wait_for_job_of(PROBE)

    assert job["metadata"]["name"].startswith(f"{PROBE}-")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"


# Where kubecheck and the 1.20 server read a schedule alike, and where kubecheck refuses
# what the server takes (cron itself does not read those as the server does).
AGREED = ["* * * * *", "0 2 * * 1-5", "*/15 9-17 * jan-mar MON,fri", "5/20 0 ? * 0-6/2", "@daily", "@weekly", "@annually"]
AGREED += ["* * * *", "0 0 * * * *", "60 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 7", "0 0 * * Monday"]
AGREED += ["10-5 * * * *", "*/0 * * * *", "@reboot", "@Weekly", "CRON_TZ=UTC 0 0 * * *", "0 0 L * *"]
STRICTER = ["@every 5m", "1,,2 * * * *", "*-5 * * * *", "+1 * * * *"]


@pytest.mark.parametrize("schedule", AGREED)
def test_compatibility_1_20_server_reads_a_schedule_as_kubecheck_does(kube_cluster: KubeCluster, schedule):
    try:
        kube_cluster.create(hand_written_cronjob("schedule", schedule), dry_run=True)
        server_refuses = False
    except KubeRefused:
        server_refuses = True

    assert (kubecheck.schedule_problem(schedule) is not None) == server_refuses


@pytest.mark.parametrize("schedule", STRICTER)
def test_compatibility_1_20_server_stores_a_schedule_kubecheck_refuses(kube_cluster: KubeCluster, schedule):
    kube_cluster.create(hand_written_cronjob("schedule", schedule), dry_run=True)

    assert kubecheck.schedule_problem(schedule) is not None


QUANTITIES_AGREED = ["1Gi", "1.5Gi", "500m", "0.5", ".5", "1e3", "1E", "1Ei", "+1", "0", "1ki", "1KI", "-1", "1e", "1 Gi", "1GiB", "20GiB"]


@pytest.mark.parametrize("quantity", QUANTITIES_AGREED)
def test_compatibility_1_20_server_reads_a_memory_quantity_as_kubecheck_does(kube_cluster: KubeCluster, quantity):
    document = hand_written_cronjob("quantity", "* * * * *")
    document["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": quantity}}
    try:
        kube_cluster.create(document, dry_run=True)
        server_refuses = False
    except KubeRefused:
        server_refuses = True

    value = kubecheck.quantity_value(quantity)
    assert (value is None or value < 0) == server_refuses


# ------------------------------------------------------ the manifest as shipped


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("job", [*JOBS, "full+secret"])
def test_the_shipped_manifest_passes_the_strict_schema_of_current_kubernetes_and_kubecheck(exported, job, version):
    for document in exported[job]:
        kubernetes_validate.validate(document, version, strict=True)
        assert kubecheck.problems(document) == []


def test_the_spread_gives_every_setting_and_schedule_kind(exported):
    """The jobs above do cover what they claim: each part the exporter writes appears."""
    cron_jobs = {name: documents[-1] for name, documents in exported.items()}
    seen = {name: yaml.safe_dump(document) for name, document in cron_jobs.items()}
    for part in ("timeZone", "startingDeadlineSeconds", "podFailurePolicy", "affinity", "envFrom", "emptyDir", "hostPath", "sleep $(("):
        assert any(part in text for text in seen.values()), part
    assert {document["spec"]["schedule"] for document in cron_jobs.values()} >= {"* * * * *", "0 2 * * *", "0 3 * * 1", "0 */6 * * *"}


def changed_paths(before, after, path: str = "") -> set[str]:
    """The dotted paths where `after` differs from `before`, each as high as it can be."""
    if isinstance(before, dict) and isinstance(after, dict):
        return {
            changed for key in before.keys() | after.keys() for changed in changed_paths(before.get(key), after.get(key), f"{path}.{key}".lstrip("."))
        }
    return set() if before == after else {path}


@pytest.mark.parametrize("job", [*JOBS, "full+secret"])
def test_compatibility_1_20_rewrite_changes_only_what_1_20_cannot_read(exported, job):
    """What the 1.20 server does not see of the shipped manifest is exactly REWRITTEN."""
    for document in exported[job]:
        changed = changed_paths(document, for_kubernetes_1_20(document))
        assert changed <= set(REWRITTEN)
        if document["kind"] == "CronJob":
            assert "apiVersion" in changed


# --------------------------------------- the manifest, rewritten, on the 1.20 engine


@pytest.mark.parametrize("job", [*JOBS, "full+secret"])
def test_compatibility_1_20_server_accepts_each_export_rewritten(kube_cluster: KubeCluster, exported, job):
    for document in exported[job]:
        kube_cluster.create(for_kubernetes_1_20(document), namespace=DRY_RUN, dry_run=True)


@pytest.mark.parametrize("job", REAL)
def test_compatibility_1_20_cronjob_controller_makes_the_job_the_job_file_describes(created: KubeCluster, home: AgentHome, job):
    settings = load_job(home.root / "config/jobs" / f"{job}.toml", on_host=False)
    made = created.wait_for_job_of(kubernetes_name(job))
    assert len(made["metadata"]["name"]) <= 63
    pod = made["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert container["image"] == settings.image
    assert container["args"] == list(settings.command)
    if settings.min_free_vram is None:
        assert "command" not in container  # the image's ENTRYPOINT runs the args
    else:
        assert container["command"][:2] == ["sh", "-c"] and container["command"][2].endswith('exec "$@"')
    assert made["spec"]["backoffLimit"] == settings.retries
    assert pod["restartPolicy"] == "Never"
    assert pod["terminationGracePeriodSeconds"] == settings.stop_grace
    if settings.timeout is not None:
        assert pod["activeDeadlineSeconds"] >= settings.timeout

    limits, requests = container["resources"].get("limits", {}), container["resources"].get("requests", {})
    assert limits.get("nvidia.com/gpu") == (str(settings.gpus) if settings.gpus else None)
    assert "nvidia.com/gpu" not in requests
    for resource, wanted in (("memory", settings.memory), ("cpu", settings.cpus)):
        # requests = limits; 1Gi == 1073741824 bytes and 500m == 0.5 cores, as numbers
        assert kubecheck.quantity_value(limits.get(resource)) == kubecheck.quantity_value(requests.get(resource)) == wanted, resource

    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    mounts = {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}
    for volume in settings.volumes:
        mount = mounts.pop(volume.container)
        kind = "File" if Path(volume.host).is_file() else "Directory"  # what it is where it was exported
        assert volumes[mount["name"]]["hostPath"] == {"path": volume.host, "type": kind}
        assert mount.get("readOnly", False) == volume.read_only
    if settings.shm_size is not None:
        shm = volumes[mounts.pop("/dev/shm")["name"]]["emptyDir"]
        assert shm["medium"] == "Memory" and kubecheck.quantity_value(shm["sizeLimit"]) == settings.shm_size
    assert mounts == {}

    uid, _, gid = (settings.user or "65534:65534").partition(":")
    assert pod["securityContext"] == {"runAsUser": int(uid), **({"runAsGroup": int(gid)} if gid else {})}
    assert container.get("workingDir") == settings.workdir
    assert {variable["name"]: variable["value"] for variable in container.get("env", [])} == dict(settings.env)
    if settings.env_file is not None:
        (source,) = container["envFrom"]
        secret = created.get("v1", "Secret", source["secretRef"]["name"])
        values = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
        assert values == dict(line.split("=", 1) for line in Path(settings.env_file).read_text().splitlines() if "=" in line)


def test_compatibility_1_20_suspended_cronjob_makes_no_job(created: KubeCluster):
    """Checked once the minute that made every other CronJob's Job has passed."""
    for name in [PROBE, *map(kubernetes_name, REAL)]:
        created.wait_for_job_of(name)
    time.sleep(2)  # each CronJob has its own turn in the controller's queue

    assert created.jobs_of(SUSPENDED) == []
    assert "lastScheduleTime" not in created.get("batch/v1beta1", "CronJob", SUSPENDED).get("status", {})
