"""The queue in a real systemd with the real dockerd and two simulated GPUs: submitted runs
start as units when their turn comes and a GPU fits, are recorded like a job's runs, and
nothing of gpuagent stays resident while they wait."""

import json
import time

import pytest

from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import wait_for
from tests.support.boxed import booted, runs
from tests.support.systemd_box import SystemdBox

GPU_A, GPU_B = "GPU-0a0a0a0a-0000-4000-8000-00000000000a", "GPU-0b0b0b0b-0000-4000-8000-00000000000b"
SIM = "/run/gpu-sim"


@pytest.fixture(scope="module")
def gpu_host(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gpu-sim")
    return FakeGpuHost(directory, [FakeGpu(GPU_A, total=24 * GiB), FakeGpu(GPU_B, total=24 * GiB)])


@pytest.fixture(scope="module")
def box(gpu_host):
    """A booted box whose gpuagent (its units and its commands) reads the simulated GPUs."""
    library_dir = gpu_host.library.parent
    binds = [(library_dir, "/opt/fake-nvml", True), (gpu_host.state_file.parent, SIM, True)]
    with booted(SystemdBox(binds)) as booted_box:
        env = {"LD_LIBRARY_PATH": "/opt/fake-nvml", "FAKE_NVML_STATE": f"{SIM}/{gpu_host.state_file.name}"}
        booted_box.exec(["systemctl", "set-environment", *(f"{key}={value}" for key, value in env.items())])
        booted_box.gpu_env = env
        yield booted_box


def agent(box, *args: str, check: bool = True):
    """gpuagent in the box, seeing the simulated GPUs as its units do."""
    return box.exec(["gpuagent", *args], check=check, env={"COLUMNS": "200", **box.gpu_env})


def queue(box) -> dict:
    return json.loads(agent(box, "queue", "--json").stdout)


def entries(box) -> list[dict]:
    return queue(box)["entries"]


def resident(box) -> list[str]:
    """gpuagent processes in the box (the units' agents, dispatchers), by command line."""
    found = box.exec(["sh", "-c", "ps -eo args= | grep -E '[g]puagent (run-queued|dispatch|run |submit)' || true"]).stdout
    return [line for line in found.splitlines() if line.strip()]


def test_submitted_cpu_runs_run_in_their_units_and_leave_nothing_behind(box, busybox_image):
    submitted = [
        agent(box, "submit", "--name", "hello", "--image", busybox_image, "--", "sh", "-c", f"echo run {i}").stdout.split()[0] for i in range(3)
    ]
    done = wait_for(
        lambda: [r for r in runs(box, "queue/hello") if r.status != "running"] if len(runs(box, "queue/hello")) >= 3 and not entries(box) else None,
        timeout=90,
        what="3 queued runs",
    )
    assert sorted(run.run_id for run in done) == sorted(submitted)
    assert {run.status for run in done} == {"succeeded"}
    assert all(run.submitter == "root" for run in done)
    journal = box.journal(f"gpuagent-queued@{submitted[0]}.service")
    assert "run 0" in journal
    wait_for(lambda: not resident(box), timeout=20, what="no gpuagent process left")
    timer = box.exec(["systemctl", "show", "-p", "UnitFileState,ActiveState", "gpuagent-dispatch.timer"]).stdout
    assert "UnitFileState=disabled" in timer and "ActiveState=inactive" in timer, timer


def test_gpu_runs_wait_with_no_process_and_start_when_memory_frees(box, busybox_image, gpu_host):
    gpu_host.update([FakeGpu(GPU_A, total=24 * GiB, used=20 * GiB), FakeGpu(GPU_B, total=24 * GiB, used=20 * GiB)])
    ids = [
        agent(
            box,
            "submit",
            "--name",
            "gpu",
            "--gpus",
            "1",
            "--min-free-vram",
            "10GiB",
            "--image",
            busybox_image,
            "--",
            "sh",
            "-c",
            "sleep 1; echo done",
        ).stdout.split()[0]
        for _ in range(3)
    ]
    time.sleep(3)
    listed = entries(box)
    assert [entry["state"] for entry in listed] == ["waiting"] * 3
    assert "needs 1 GPU(s) with 10GiB free" in listed[0]["why"], listed[0]["why"]
    assert not resident(box), "nothing runs while runs wait"
    assert "ActiveState=active" in box.exec(["systemctl", "show", "-p", "ActiveState", "gpuagent-dispatch.timer"]).stdout
    gpu_host.update([FakeGpu(GPU_A, total=24 * GiB, used=0), FakeGpu(GPU_B, total=24 * GiB, used=20 * GiB)])
    done = wait_for(
        lambda: (
            [r for r in runs(box, "queue/gpu") if r.status != "running"]
            if len([r for r in runs(box, "queue/gpu") if r.status != "running"]) >= 3
            else None
        ),
        timeout=120,
        what="3 GPU runs",
    )
    assert {run.status for run in done} == {"succeeded"}, [(r.status, r.reason) for r in done]
    assert {run.gpu_uuids for run in done} == {(GPU_A,)}
    assert sorted(run.run_id for run in done) == sorted(ids)


def test_a_scheduled_run_waiting_for_memory_takes_its_place_in_the_queue(box, busybox_image, gpu_host):
    full = [FakeGpu(GPU_A, total=24 * GiB, used=20 * GiB), FakeGpu(GPU_B, total=24 * GiB, used=20 * GiB)]
    gpu_host.update(full)
    agent(
        box,
        "add",
        "nightly",
        "--at",
        "03:00",
        "--disabled",
        "--gpus",
        "1",
        "--min-free-vram",
        "10GiB",
        "--vram-wait",
        "5m",
        "--image",
        busybox_image,
        "--",
        "sh",
        "-c",
        "echo nightly",
    )
    agent(box, "trigger", "nightly")
    wait_for(lambda: [entry for entry in entries(box) if entry["name"] == "nightly"] or None, timeout=30, what="the nightly's run in the queue")
    # submitted later, but of a higher priority: it goes first
    [urgent] = agent(
        box,
        "submit",
        "--name",
        "urgent",
        "--priority",
        "80",
        "--gpus",
        "1",
        "--min-free-vram",
        "10GiB",
        "--image",
        busybox_image,
        "--",
        "sh",
        "-c",
        "sleep 3",
    ).stdout.split()[:1]
    listed = entries(box)
    assert [entry["name"] for entry in listed] == ["urgent", "nightly"], listed
    assert listed[1]["why"] and "ahead" in listed[1]["why"], listed[1]["why"]
    gpu_host.update([FakeGpu(GPU_A, total=24 * GiB, used=10 * GiB), FakeGpu(GPU_B, total=24 * GiB, used=20 * GiB)])  # room for one
    wait_for(lambda: any(run.run_id == urgent for run in runs(box, "queue/urgent")) or None, timeout=30, what="urgent started")
    assert [entry["name"] for entry in entries(box) if entry["state"] == "waiting"] == ["nightly"], "the nightly waits for the urgent run"
    nightly = wait_for(lambda: [r for r in runs(box, "nightly") if r.status != "running"] or None, timeout=60, what="the nightly's run")
    [urgent_run] = runs(box, "queue/urgent")
    assert nightly[0].status == "succeeded", nightly[0].reason
    assert urgent_run.ended_at <= nightly[0].ended_at
    assert not entries(box)
