"""Admission on a shared (simulated) GPU host: waiting, reservations, the run's own GPU use."""

import time

import pytest

from gpuagent.host.dockerd import LABEL_JOB
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import AgentHome, wait_for

GPU = "GPU-5a5a5a5a-0000-0000-0000-000000000000"


@pytest.fixture
def gpu_host(tmp_path):
    return FakeGpuHost(tmp_path, gpus=[FakeGpu(uuid=GPU, total=40 * GiB, used=10 * GiB)])  # 30 GiB free


@pytest.fixture
def home(tmp_path, gpu_host):
    return AgentHome(tmp_path / "agent", extra_env=gpu_host.env())


def containers(docker_client, job: str):
    return docker_client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job}"}, ignore_removed=True)


def test_two_jobs_firing_together_take_turns_on_one_gpu(home, busybox_image, docker_client):
    for name in ("first", "second"):
        home.write_job(name, busybox_image, ["sleep", "4"], gpus=1, min_free_vram="20GiB", vram_wait="2m")
    agents = {name: home.popen("run", name) for name in ("first", "second")}
    overlap = False
    while any(agent.poll() is None for agent in agents.values()):
        overlap |= bool(containers(docker_client, "first")) and bool(containers(docker_client, "second"))
        time.sleep(0.2)
    outputs = {name: agent.communicate() for name, agent in agents.items()}

    assert all(agent.returncode == 0 for agent in agents.values()), outputs
    assert not overlap, "both runs held the GPU's 30 GiB for 20 GiB each at once"
    [waiter] = [name for name, (_, err) in outputs.items() if "waiting for GPU memory" in err]
    other = "first" if waiter == "second" else "second"
    assert home.last_run(waiter).started_at < home.last_run(other).ended_at
    assert home.last_run(waiter).ended_at > home.last_run(other).ended_at + 3


def test_a_wait_that_times_out_is_skipped_with_the_best_free_figure(home, busybox_image, docker_client):
    home.write_job("toobig", busybox_image, ["true"], gpus=1, min_free_vram="35GiB", vram_wait="3s")
    started = time.monotonic()
    result = home.run("run", "toobig")

    assert time.monotonic() - started >= 3
    assert result.returncode == 0, "a skip is not a failure"
    run = home.last_run("toobig")
    assert run.status == "skipped-vram"
    assert "best free seen 30GiB" in run.reason
    assert containers(docker_client, "toobig") == []


def test_memory_freed_mid_wait_lets_the_run_start(home, gpu_host, busybox_image):
    home.write_job("patient", busybox_image, ["echo", "got it"], gpus=1, min_free_vram="35GiB", vram_wait="1m")
    agent = home.popen("run", "patient")
    wait_for(lambda: home.runs("patient"), what="the waiting run's row")
    time.sleep(3)
    assert agent.poll() is None, "the run must still be waiting"
    gpu_host.update([FakeGpu(uuid=GPU, total=40 * GiB, used=1 * GiB)])
    stdout, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 0, stderr
    assert stdout == "got it\n"
    assert "waiting for GPU memory" in stderr
    assert home.last_run("patient").status == "succeeded"


def test_peak_vram_of_the_runs_own_processes_is_recorded(home, gpu_host, busybox_image, docker_client):
    home.write_job("measured", busybox_image, ["sleep", "5"], gpus=1)
    agent = home.popen("run", "measured")
    [container] = wait_for(lambda: containers(docker_client, "measured"), what="the container")
    pid = wait_for(lambda: (container.reload(), container.attrs["State"]["Pid"])[1], what="the container's pid")
    # the container's process holds 3 GiB; another process on the GPU holds 10 GiB
    gpu_host.update([FakeGpu(uuid=GPU, total=40 * GiB, used=13 * GiB, util=40, processes=[(pid, 3 * GiB), (1, 10 * GiB)])])
    _, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 0, stderr
    run = home.last_run("measured")
    assert run.peak_vram_bytes == 3 * GiB
    assert 0 < run.mean_vram_bytes <= 3 * GiB
    assert run.mean_gpu_util is not None and 0 < run.mean_gpu_util <= 40
    assert run.gpu_names == "NVIDIA H100 80GB HBM3"
    assert run.driver_version == "550.54.15"


def test_exclusive_admits_an_idle_gpu_and_refuses_one_with_a_foreign_process(home, gpu_host, busybox_image):
    home.write_job("alone", busybox_image, ["true"], gpus=1, exclusive=True, vram_policy="fail")
    assert home.run("run", "alone").returncode == 0

    gpu_host.update([FakeGpu(uuid=GPU, total=40 * GiB, used=2 * GiB, processes=[(1, 2 * GiB)])])
    result = home.run("run", "alone")

    assert result.returncode == 1
    run = home.last_run("alone")
    assert run.status == "skipped-vram" and "refused by --exclusive" in run.reason
