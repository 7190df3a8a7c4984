"""`gpuagent export --to slurm` on a real Slurm: one node on loopback with two simulated
GPUs (tests/support/slurm.py). The exported scripts run through sbatch and scrontab,
start their containers on the host's dockerd, and are judged by what Slurm recorded:
its jobcomp lines and the GPUs its Prolog saw; docker's events say which containers came
and went."""

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpuagent.host.files import write_atomic
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.jobfile import job_to_toml
from gpuagent.jobs.schedule import parse_schedule
from tests.gpu_sim import FakeGpu, GiB
from tests.support.agent import AgentHome, wait_for
from tests.support.slurm import DEFAULT_GPUS, SlurmCluster, running_cluster

SMI_QUERY = "nvidia-smi --query-gpu=index,memory.free,utilization.gpu --format=csv,noheader,nounits"
NO_FIT = "75:0"  # the exported check's exit code when the GPUs do not fit, as Slurm records it


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


@dataclass(frozen=True)
class Submitted:
    job_id: str
    directory: Path
    since: float


@pytest.fixture(scope="module", autouse=True)
def overrun(slurm_cluster: SlurmCluster, tmp_path_factory, busybox_image) -> Submitted:
    """A job that runs past its one-minute --time, submitted before the module's first
    test: Slurm ends it a minute and a half later, while the other tests run, and the
    last test reads how."""
    directory = tmp_path_factory.mktemp("overrun")
    home = AgentHome(directory / "agent")
    write_job(home, "overrun", busybox_image, "echo started; sleep 600", timeout="1m", stop_grace="1s")
    script = export(home, "overrun", directory)
    since = time.time()
    return Submitted(slurm_cluster.submit(script, directory), directory, since)


@pytest.fixture
def cluster(slurm_cluster: SlurmCluster):
    """The module's cluster, its GPUs as idle as they started whatever the test did."""
    yield slurm_cluster
    slurm_cluster.gpus.update(DEFAULT_GPUS)


@pytest.fixture
def home(tmp_path):
    return AgentHome(tmp_path / "agent")


def write_job(home: AgentHome, name: str, image: str, script: str, schedule=None, **options) -> None:
    """A job running `sh -c script`, its file as `gpuagent add` writes it (add itself
    needs systemd, for the timer)."""
    job = job_from_options(name, schedule or parse_schedule(at="02:00"), dict(image=image, command=["sh", "-c", script], **options))
    write_atomic(home.root / "config" / "jobs" / f"{name}.toml", job_to_toml(job))


def export(home: AgentHome, name: str, directory: Path, *flags: str) -> Path:
    script = directory / f"{name}.sbatch"
    result = home.run("export", name, "--to", "slurm", "--runtime", "docker", "-o", str(script), *flags)
    assert result.returncode == 0, result.stderr
    return script


def output(directory: Path, name: str, job_id: str) -> list[str]:
    """The job's output file, where --output=JOB-%j.out puts it."""
    return (directory / f"{name}-{job_id}.out").read_text().splitlines()


def container_actions(docker_client, job_id: str, since: float) -> list[str]:
    """What happened to the job's container (the script names it after the job id)."""
    events = docker_client.events(since=int(since), until=int(time.time()) + 1, decode=True, filters={"container": f"gpuagent-{job_id}"})
    return [event["Action"] for event in events]


def assert_container_came_and_went(docker_client, job_id: str, since: float) -> None:
    actions = container_actions(docker_client, job_id, since)
    assert {"create", "start", "destroy"} <= set(actions), actions
    assert docker_client.containers.list(all=True, filters={"name": f"gpuagent-{job_id}"}) == []


def sleeper(directory: Path) -> Path:
    script = directory / "sleeper.sh"
    script.write_text("#!/bin/sh\nexec sleep 120\n")
    return script


def test_the_cluster_gives_a_job_a_gpu_that_docker_and_nvidia_smi_agree_on(cluster: SlurmCluster, tmp_path: Path, busybox_image):
    """The engine itself, before any export: a hand-written batch script."""
    script = tmp_path / "probe.sbatch"
    script.write_text(
        "#!/bin/bash\n"
        "#SBATCH --gres=gpu:1 --output=%x-%j.out\n"
        f"{SMI_QUERY}\n"
        f"docker run --rm --gpus \"device=$SLURM_JOB_GPUS\" {busybox_image} sh -c 'echo visible=$NVIDIA_VISIBLE_DEVICES'\n"
    )
    job_id = cluster.submit(script, tmp_path)
    end = cluster.wait_ended(job_id)

    assert (end.name, end.state, end.exit_code) == ("probe.sbatch", "COMPLETED", "0:0")
    assert end.gpus in ("0", "1")
    assert output(tmp_path, "probe.sbatch", job_id) == ["0, 81920, 0", "1, 81920, 0", f"visible={end.gpus}"]


def test_an_exported_job_runs_its_container_on_the_gpu_slurm_gave(cluster, home, tmp_path, docker_client, busybox_image):
    write_job(home, "train", busybox_image, "echo visible=$NVIDIA_VISIBLE_DEVICES", gpus=1)
    script = export(home, "train", tmp_path)
    # another job holds GPU 0, so the right answer is 1, not the first GPU by chance
    holder = cluster.submit(sleeper(tmp_path), tmp_path, "--gres=gpu:1")
    assert cluster.wait_started(holder) == "0"
    since = time.time()
    job_id = cluster.submit(script, tmp_path)
    end = cluster.wait_ended(job_id)
    cluster.cancel(holder)

    assert (end.name, end.state, end.exit_code, end.gpus) == ("train", "COMPLETED", "0:0", "1")
    assert output(tmp_path, "train", job_id) == ["visible=1"]
    assert_container_came_and_went(docker_client, job_id, since)


def test_two_submissions_of_one_job_never_overlap(cluster, home, tmp_path, busybox_image):
    write_job(home, "single", busybox_image, "sleep 2")
    script = export(home, "single", tmp_path)
    first, second = cluster.submit(script, tmp_path), cluster.submit(script, tmp_path)
    waiting = cluster.slurm("squeue", "-h", "-j", second, "-o", "%T %r").stdout.split()
    ends = cluster.wait_ended(first), cluster.wait_ended(second)

    # the node has room for both: only the singleton dependency keeps the second back
    assert waiting == ["PENDING", "Dependency"]
    assert [end.state for end in ends] == ["COMPLETED", "COMPLETED"]
    assert ends[1].start >= ends[0].end, ends


def test_the_scrontab_entry_is_accepted_and_fires(cluster, home, tmp_path, docker_client, busybox_image):
    write_job(home, "nightly", busybox_image, "echo fired on $NVIDIA_VISIBLE_DEVICES", schedule=parse_schedule(cron="* * * * *"), gpus=1)
    script = export(home, "nightly", tmp_path, "--scrontab")
    since = time.time()
    cluster.install_scrontab(script.with_suffix(".scrontab"))
    try:
        [job_id] = cluster.job_ids("nightly")
        # the next minute, and then the backfill pass that starts it
        end = cluster.wait_ended(job_id, timeout=80)
    finally:
        cluster.remove_scrontab()

    assert (end.name, end.state, end.exit_code) == ("nightly", "COMPLETED", "0:0")
    beside = tmp_path / f"nightly-{job_id}.out"
    assert beside.exists(), (
        "the output goes beside the script, as sbatch's does: a scrontab job runs in the user's home directory, and Slurm 22.05 writes its %x as (null)"
    )
    assert output(tmp_path, "nightly", job_id) == [f"fired on {end.gpus}"]
    assert_container_came_and_went(docker_client, job_id, since)


def test_a_job_whose_gpus_lack_free_memory_fails_before_its_container_starts(cluster, home, tmp_path, docker_client, busybox_image):
    write_job(home, "big", busybox_image, "echo ran", gpus=1, min_free_vram="20GiB", vram_policy="fail")
    script = export(home, "big", tmp_path)
    cluster.gpus.update([FakeGpu(uuid=gpu.uuid, used=70 * GiB) for gpu in DEFAULT_GPUS])  # 10 GiB free each
    since = time.time()
    refused = cluster.submit(script, tmp_path)
    refused_end = cluster.wait_ended(refused)
    cluster.gpus.update([FakeGpu(uuid=DEFAULT_GPUS[0].uuid, used=70 * GiB), FakeGpu(uuid=DEFAULT_GPUS[1].uuid, used=50 * GiB)])
    # with GPU 0 held, the job gets GPU 1, which now has 30 GiB free
    holder = cluster.submit(sleeper(tmp_path), tmp_path, "--gres=gpu:1")
    assert cluster.wait_started(holder) == "0"
    admitted = cluster.submit(script, tmp_path)
    admitted_end = cluster.wait_ended(admitted)
    cluster.cancel(holder)

    assert (refused_end.state, refused_end.exit_code) == ("FAILED", NO_FIT)
    assert output(tmp_path, "big", refused) == ["gpuagent: the GPUs do not have at least 20480 MiB free"]
    assert container_actions(docker_client, refused, since) == []
    assert (admitted_end.state, admitted_end.exit_code, admitted_end.gpus) == ("COMPLETED", "0:0", "1")
    assert output(tmp_path, "big", admitted) == ["ran"]


def test_a_failed_attempt_is_retried_in_the_script(cluster, home, tmp_path, docker_client, busybox_image):
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)  # the container runs as nobody
    first_fails = "if [ -e /data/tried ]; then echo second attempt; else touch /data/tried; echo first attempt; exit 3; fi"
    write_job(home, "flaky", busybox_image, first_fails, volumes=[f"{data}:/data"], retries=1, retry_delay="1s")
    script = export(home, "flaky", tmp_path)
    since = time.time()
    job_id = cluster.submit(script, tmp_path)
    end = cluster.wait_ended(job_id)

    assert (end.state, end.exit_code) == ("COMPLETED", "0:0")
    assert output(tmp_path, "flaky", job_id) == ["first attempt", "gpuagent: attempt 1 failed (exit 3): again in 1s", "second attempt"]
    assert container_actions(docker_client, job_id, since).count("create") == 2, "one container per attempt"
    assert_container_came_and_went(docker_client, job_id, since)


def test_an_attempt_over_its_timeout_is_not_retried(cluster, home, tmp_path, docker_client, busybox_image):
    write_job(home, "slow", busybox_image, "echo started; sleep 600", timeout="3s", stop_grace="1s", retries=1, retry_delay="1s")
    script = export(home, "slow", tmp_path)
    since = time.time()
    job_id = cluster.submit(script, tmp_path)
    end = cluster.wait_ended(job_id)

    assert (end.state, end.exit_code) == ("FAILED", "124:0"), end
    assert output(tmp_path, "slow", job_id) == ["started", "gpuagent: the attempt ran past its timeout (3s): stopped"]
    assert container_actions(docker_client, job_id, since).count("create") == 1
    assert_container_came_and_went(docker_client, job_id, since)


def test_a_cancelled_job_stops_and_removes_its_container(cluster, home, tmp_path, docker_client, busybox_image):
    write_job(home, "stopped", busybox_image, "echo started; sleep 600", stop_grace="1s")
    script = export(home, "stopped", tmp_path)
    since = time.time()
    job_id = cluster.submit(script, tmp_path)
    wait_for(lambda: (tmp_path / f"stopped-{job_id}.out").exists() and output(tmp_path, "stopped", job_id), what="the container's first line")
    cluster.cancel(job_id)
    end = cluster.wait_ended(job_id)

    assert end.state == "CANCELLED", end
    assert_container_came_and_went(docker_client, job_id, since)


def test_a_job_over_its_time_is_ended_by_slurm_and_its_container_removed(cluster, overrun, docker_client):
    end = cluster.wait_ended(overrun.job_id, timeout=150)

    assert end.state == "TIMEOUT", end
    # Slurm keeps --time in whole minutes and looks at it every 30 s; then 1 s of grace
    assert 60 <= end.seconds <= 110, end
    assert output(overrun.directory, "overrun", overrun.job_id)[0] == "started"
    assert_container_came_and_went(docker_client, overrun.job_id, overrun.since)
