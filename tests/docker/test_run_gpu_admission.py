"""GPU jobs on a simulated GPU host: the real pynvml reads the fake NVML library, and
dockerd's GPU requests go through the stub nvidia hook."""

import pytest

from gpuagent.host.dockerd import LABEL_JOB
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import AgentHome, wait_for

SMALL = "GPU-00000000-aaaa-0000-0000-000000000000"
ROOMY = "GPU-11111111-bbbb-0000-0000-000000000000"
BUSY = "GPU-22222222-cccc-0000-0000-000000000000"


@pytest.fixture
def gpu_host(tmp_path):
    return FakeGpuHost(
        tmp_path,
        gpus=[
            FakeGpu(uuid=SMALL, total=24 * GiB, used=14 * GiB),  # 10 GiB free
            FakeGpu(uuid=ROOMY, total=80 * GiB, used=50 * GiB),  # 30 GiB free
            FakeGpu(uuid=BUSY, total=80 * GiB, used=75 * GiB, processes=[(4242, 75 * GiB)]),  # 5 GiB free
        ],
    )


@pytest.fixture
def home(tmp_path, gpu_host):
    return AgentHome(tmp_path / "agent", extra_env=gpu_host.env())


def test_a_job_needing_20gib_lands_on_the_gpu_that_has_it(home, busybox_image):
    home.write_job("train", busybox_image, ["sh", "-c", "echo visible=$NVIDIA_VISIBLE_DEVICES"], gpus=1, min_free_vram="20GiB")
    result = home.run("run", "train")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"visible={ROOMY}"
    run = home.last_run("train")
    assert run.status == "succeeded"
    assert run.gpu_uuids == (ROOMY,)
    assert "admitted on GPU 1 (30GiB free)" in result.stderr


def test_with_no_gpu_free_the_run_fails_clearly_and_starts_nothing(home, busybox_image, docker_client):
    home.write_job("big", busybox_image, ["true"], gpus=1, min_free_vram="40GiB", vram_policy="fail")
    result = home.run("run", "big")

    assert result.returncode == 1
    run = home.last_run("big")
    assert run.status == "skipped-vram"
    assert "needs 1 GPU(s) with 40GiB free" in run.reason
    assert f"best free is 30GiB on GPU 1 ({ROOMY})" in run.reason
    assert run.container_id is None
    assert docker_client.containers.list(all=True, filters={"label": f"{LABEL_JOB}=big"}) == []


def test_memory_freed_on_the_gpu_is_seen_by_the_next_run(home, gpu_host, busybox_image):
    home.write_job("retry", busybox_image, ["sh", "-c", "echo $NVIDIA_VISIBLE_DEVICES"], gpus=1, min_free_vram="60GiB", vram_policy="skip")
    skipped = home.run("run", "retry")
    assert skipped.returncode == 0, "--vram-policy skip: a skip is not a failure"
    assert home.last_run("retry").status == "skipped-vram"
    gpu_host.update([FakeGpu(uuid=SMALL, total=24 * GiB), FakeGpu(uuid=ROOMY, total=80 * GiB, used=10 * GiB)])
    result = home.run("run", "retry")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ROOMY


def test_without_an_nvidia_driver_a_gpu_job_is_an_error_naming_it(tmp_path, busybox_image):
    home = AgentHome(tmp_path / "agent", extra_env={"LD_LIBRARY_PATH": "/nonexistent"})
    home.write_job("gpujob", busybox_image, ["true"], gpus=1)
    result = home.run("run", "gpujob")

    assert result.returncode == 1
    run = home.last_run("gpujob")
    assert run.status == "error"
    assert "NVIDIA driver" in run.reason


def test_a_run_waiting_for_gpu_memory_has_told_its_start(home, busybox_image, docker_client):
    """A run's start is told once it is under way: its container started, or, as here,
    it waits for GPU memory (the metrics say it runs long before it gets a GPU)."""
    home.write_job("waits", busybox_image, ["true"], gpus=1, min_free_vram="60GiB", vram_policy="wait", vram_wait="5m")
    agent = home.popen("run", "waits")
    try:
        running = 'gpuagent_job_last_run_status{job_name="waits",status="running"} 1.0'
        textfiles = home.root / "textfiles"
        wait_for(lambda: any(running in path.read_text() for path in textfiles.glob("*.prom")), timeout=30, what="the waiting run in the metrics")
        assert docker_client.containers.list(all=True, filters={"label": f"{LABEL_JOB}=waits"}) == []
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    assert home.last_run("waits").status == "stopped"
