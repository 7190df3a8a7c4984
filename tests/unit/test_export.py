"""gpuagent export: each setting's mapping to Slurm and Kubernetes, the cron line of each
kind of schedule, what is refused, the files each engine gets, and that the same job gives
the same bytes. A calendar from --on and the scripts as shellcheck reads them are
tests/tools/test_export_files.py's."""

import dataclasses
import sys

import pytest
import yaml

from gpuagent.core.errors import InvalidInput
from gpuagent.export.cronline import cron_line
from gpuagent.export.engines import ENGINES, NOT_AT_ALL
from gpuagent.export.exporter import MANIFEST, MAPPINGS, SCRIPT, SCRONTAB, ExportOptions, export_job, kind_of, read_header
from gpuagent.export.gpucheck import NO_FIT
from gpuagent.export.slurm import pyxis_image
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.jobs.settings import SETTINGS
from tests.support import kubecheck
from tests.support.settings_reference import NAME_AND_SCHEDULE

IMAGE = "pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime"


FULL = dict(
    gpus=1,
    min_free_vram="20GiB",
    memory="32g",
    cpus=8.0,
    shm_size="8g",
    volumes=["/srv/data:/data:ro", "/srv/runs:/runs"],
    env=["BATCH=64"],
    env_file="/etc/gpuagent/nightly.env",
    workdir="/data",
    user="1000:1000",
    timeout="6h",
    retries=1,
)


def job(name="nightly", schedule=None, command=("python", "train.py"), **options):
    """A job as `add` makes it, its schedule as parse_schedule gives it: for --at, --cron
    and --every that is already systemd's normal form (tests/tools/test_calendar.py and
    test_time_zones_in_systemd.py hold it to that), so no systemd-analyze is needed here.
    A calendar from --on needs the job of tests/tools/test_export_files.py."""
    return job_from_options(
        name, parse_schedule(**(schedule or {"at": "02:00", "tz": "Europe/Berlin"})), dict(image=IMAGE, command=list(command), **options)
    )


def export(the_job, options, **kwargs):
    """export_job, and every manifest it makes held to tests/support/kubecheck.py: what the
    API server would refuse, or wrongly take, is a bug of the exporter's."""
    exported = export_job(the_job, options, **kwargs)
    if MANIFEST in exported.files:
        found = [problem for document in yaml.safe_load_all(exported.files[MANIFEST]) for problem in kubecheck.problems(document)]
        assert not found, f"the exporter made a manifest that is not valid: {found}"
    return exported


def slurm(the_job, **options):
    return export(the_job, ExportOptions("slurm", **options))


def kubernetes(the_job, **kwargs):
    options = {key: kwargs.pop(key) for key in ("with_secret",) if key in kwargs}
    return export(the_job, ExportOptions("kubernetes", **options), **kwargs)


def cron_job(exported):
    return [document for document in yaml.safe_load_all(exported.files[MANIFEST]) if document["kind"] == "CronJob"][0]


def pod_of(document):
    return document["spec"]["jobTemplate"]["spec"]["template"]["spec"]


# -------------------------------------------------------------------------- the table


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_maps_every_setting_and_nothing_else(engine):
    table = MAPPINGS[engine]
    fields = [setting.field for setting in SETTINGS]
    missing = sorted(set(fields) - set(table))
    assert not missing, f"{engine} has no mapping for {missing}: add a line to its table"
    strangers = sorted(set(table) - set(fields) - set(NAME_AND_SCHEDULE))
    assert not strangers, f"{engine} maps {strangers}, which are not settings"
    assert list(table) == [*NAME_AND_SCHEDULE, *fields], f"{engine}'s table is not in the settings' order (the job file reference's table follows it)"


@pytest.mark.parametrize("engine", ENGINES)
def test_every_row_says_how_it_maps_to_each_engine(engine):
    for field, mapping in MAPPINGS[engine].items():
        assert mapping.becomes, f"{field}: no words for {engine}"
        if field in NAME_AND_SCHEDULE:
            assert mapping.apply is None and mapping.fit != NOT_AT_ALL, f"{field}: the exporter maps it itself"
        elif mapping.fit == NOT_AT_ALL:
            assert mapping.apply is None and mapping.instead, f"{field}: a setting that cannot map says what to do instead"
        else:
            assert callable(mapping.apply), f"{field}: {engine} has no method for it"


def test_a_made_up_setting_without_a_mapping_fails_the_check(monkeypatch):
    made_up = dataclasses.replace(SETTINGS[0], field="made_up")
    monkeypatch.setattr(sys.modules[__name__], "SETTINGS", (*SETTINGS, made_up))
    with pytest.raises(AssertionError, match=r"has no mapping for \['made_up'\]"):
        test_each_engine_maps_every_setting_and_nothing_else("slurm")


# ------------------------------------------------------------------------- cron lines


@pytest.mark.parametrize(
    ("every", "line"), [("15m", "*/15 * * * *"), ("1m", "* * * * *"), ("6h", "0 */6 * * *"), ("1h", "0 * * * *"), ("1d", "0 0 * * *")]
)
def test_an_interval_becomes_the_clock_aligned_line_and_says_so(every, line):
    cron = cron_line(parse_schedule(every=every))
    assert str(cron) == line
    assert "counts from the last start" in cron.approximation


# ------------------------------------------------------------------------------ Slurm


def test_the_batch_script_asks_slurm_for_what_the_job_needs():
    script = slurm(job(**FULL)).files[SCRIPT]
    for line in (
        "#SBATCH --job-name=nightly",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --mem=32768M",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --dependency=singleton",
        "#SBATCH --output=nightly-%j.out",
        "#SBATCH --open-mode=append",
        "export BATCH=64",
    ):
        assert line + "\n" in script
    # two attempts of 6h with the grace, a minute between, the check's 30m and a poll
    assert "#SBATCH --time=12:32:00\n" in script
    assert (
        "srun --container-image=pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime --container-mounts=/srv/data:/data:ro,/srv/runs:/runs --container-workdir=/data python train.py"
        in script
    )
    assert f"-lt {NO_FIT}" not in script and f"exit {NO_FIT}" in script


def test_a_job_with_no_retry_and_no_check_is_ended_by_slurms_own_limit():
    script = slurm(job(timeout="90s")).files[SCRIPT]
    assert "#SBATCH --time=00:02:00\n" in script  # whole minutes, rounded up
    assert "gpuagent_watchdog" not in script and "nvidia-smi" not in script


def test_the_docker_runtime_repeats_the_limits_and_cleans_up_after_itself():
    script = slurm(job(**{**FULL, "user": None}), runtime="docker").files[SCRIPT]
    run = next(line for line in script.splitlines() if "docker run --rm" in line)
    for word in (
        '--gpus "device=$SLURM_JOB_GPUS"',
        "--memory 34359738368",
        "--memory-swap 34359738368",
        "--cpus 8",
        "--shm-size 8589934592",
        "-v /srv/data:/data:ro",
        "--env-file /etc/gpuagent/nightly.env",
        "-e BATCH",
        "-w /data",
        '--user "$gpuagent_user"',
    ):
        assert word in run
    assert 'trap \'docker stop --time 10 "$gpuagent_container"' in script
    assert 'trap \'docker rm --force "$gpuagent_container" >/dev/null 2>&1; rm -f "$gpuagent_timed_out"\' EXIT' in script
    assert "--init --security-opt no-new-privileges" in run  # as gpuagent runs its containers
    assert "gpuagent_user=65534:65534" in script  # nobody for an image whose user is root


def test_pyxis_writes_a_registry_as_enroot_does():
    assert pyxis_image("nvcr.io/nvidia/pytorch:24.01-py3") == "nvcr.io#nvidia/pytorch:24.01-py3"
    assert pyxis_image("localhost:5000/team/train") == "localhost:5000#team/train"
    assert pyxis_image("pytorch/pytorch:2.9.0") == "pytorch/pytorch:2.9.0"


def test_the_scrontab_entry_runs_the_script_by_its_path_on_the_cron_line():
    exported = slurm(job(schedule={"cron": "0 2 * * 1-5"}, timeout="1h"), scrontab_script="/shared/jobs/nightly.sbatch")
    entry = exported.files[SCRONTAB]
    assert entry.splitlines()[-1] == "0 2 * * 1-5 /bin/bash /shared/jobs/nightly.sbatch"
    assert "#SCRON --job-name=nightly\n" in entry and "#SCRON --time=01:00:00\n" in entry
    # its jobs start in the user's home: the output goes beside the script, named in full
    assert "#SCRON --chdir=/shared/jobs\n" in entry and "#SCRON --output=nightly-%j.out\n" in entry
    assert "--dependency" not in entry and "--export" not in entry  # scrontab never overlaps a job's fires itself
    assert any("slurmctld's time zone" in note for note in exported.notes)


def test_a_batch_script_alone_says_it_has_no_schedule():
    assert any(note.startswith("schedule: a batch script has no schedule") for note in slurm(job()).notes)


# ------------------------------------------------------------------------- Kubernetes


def test_the_cronjob_says_what_the_job_file_says():
    document = cron_job(kubernetes(job(**FULL)))
    spec = document["spec"]
    assert (document["apiVersion"], document["kind"], document["metadata"]["name"]) == ("batch/v1", "CronJob", "nightly")
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("0 2 * * *", "Europe/Berlin", "Forbid")
    assert "suspend" not in spec and "startingDeadlineSeconds" not in spec
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 1
    pod = pod_of(document)
    [container] = pod["containers"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000}
    assert pod["terminationGracePeriodSeconds"] == 10
    assert pod["activeDeadlineSeconds"] == 6 * 3600 + 1800 + 15  # the timeout, and room for the check
    assert container["image"] == IMAGE and container["args"] == ["python", "train.py"] and container["workingDir"] == "/data"
    assert container["resources"] == {
        "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "8", "memory": "32Gi"},
    }
    assert container["env"] == [{"name": "BATCH", "value": "64"}]
    assert container["envFrom"] == [{"secretRef": {"name": "nightly-env"}}]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "8Gi"}
    assert volumes["volume-1"]["hostPath"] == {"path": "/srv/data", "type": ""}  # not here: test_export_host_paths.py
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert mounts["/dev/shm"]["name"] == "dshm" and mounts["/data"].get("readOnly") is True and "readOnly" not in mounts["/runs"]


def test_free_vram_is_node_affinity_on_total_memory_and_a_check_in_the_pod():
    document = cron_job(kubernetes(job(**FULL)))
    pod = pod_of(document)
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["20479"]}]}]
    command = pod["containers"][0]["command"]
    assert command[:2] == ["sh", "-c"] and command[2].endswith('exec "$@"') and command[3] == "gpuagent"
    rules = document["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    assert rules == [{"action": "FailJob", "onExitCodes": {"containerName": "job", "operator": "In", "values": [NO_FIT]}}]


def test_a_paused_job_suspends_and_no_persistent_sets_a_starting_deadline():
    spec = cron_job(kubernetes(job(persistent=False, enabled=False)))["spec"]
    assert spec["suspend"] is True and spec["startingDeadlineSeconds"] == 120


def test_with_secret_the_env_file_becomes_a_secret_before_the_cronjob():
    exported = kubernetes(job(env_file="/etc/x.env"), with_secret=True, env_pairs=[("TOKEN", "s3cret")])
    secret, cron = yaml.safe_load_all(exported.files[MANIFEST])
    assert (secret["kind"], secret["metadata"]["name"], secret["data"]) == ("Secret", "nightly-env", {"TOKEN": "czNjcmV0"})
    assert cron["kind"] == "CronJob"


def test_no_user_runs_as_nobody_and_says_why():
    exported = kubernetes(job())
    assert pod_of(cron_job(exported))["securityContext"] == {"runAsUser": 65534, "runAsGroup": 65534}
    assert any(note.startswith("container.user: gpuagent runs the image's own user") for note in exported.notes)


def test_fractions_of_a_cpu_are_millicores():
    resources = pod_of(cron_job(kubernetes(job(cpus=0.5))))["containers"][0]["resources"]
    assert resources["limits"]["cpu"] == "500m"


def test_an_underscore_becomes_a_dash_and_is_said():
    exported = kubernetes(job(name="train_ranker"))
    assert cron_job(exported)["metadata"]["name"] == "train-ranker"
    assert any(note.startswith("name:") for note in exported.notes)


# --------------------------------------------------------------------------- refusals


def test_with_secret_needs_an_env_file():
    with pytest.raises(InvalidInput, match="--with-secret: the job has no env file"):
        kubernetes(job(), with_secret=True)


# --------------------------------------------------------------- determinism, --check


@pytest.mark.parametrize(
    "options",
    [
        ExportOptions("slurm"),
        ExportOptions("slurm", runtime="docker"),
        ExportOptions("slurm", scrontab_script="/shared/jobs/my job.sbatch"),
        ExportOptions("kubernetes"),
        ExportOptions("kubernetes", with_secret=True),
    ],
)
def test_the_same_job_gives_the_same_bytes_and_each_file_names_its_command(options):
    the_job = job(**FULL)
    first, second = (export(the_job, options, env_pairs=[("A", "1")]) for _ in range(2))
    assert first == second
    for kind, text in first.files.items():
        assert kind_of(text) == kind
        assert read_header(text) == ("nightly", options)


def test_a_file_export_did_not_write_is_not_read_as_one():
    with pytest.raises(InvalidInput, match="not a file `gpuagent export` wrote"):
        read_header("#!/bin/bash\necho hi\n")
