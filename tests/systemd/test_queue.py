"""The queue in a real systemd with the real dockerd and two simulated GPUs: submitted runs
start as units when their turn comes and a GPU fits, are recorded like a job's runs, and
nothing of gpuagent stays resident while they wait."""

import json
import time

import pytest

from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import wait_for
from tests.support.boxed import booted, runs
from tests.support.queue_box import gpuagent_processes
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
    wait_for(lambda: not gpuagent_processes(box), timeout=20, what="no gpuagent process left")
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
    # nothing stays while runs wait: at most the timer's dispatcher passes, every 10 s
    wait_for(lambda: not gpuagent_processes(box), timeout=15, what="no gpuagent process while runs wait")
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


# Counts to 40 in steps; on SIGTERM it saves its step and exits, and a new start resumes.
RESUMABLE = (
    'trap "echo \\$i > /ckpt/step; echo checkpoint at \\$i; exit 143" TERM; '
    "i=$(cat /ckpt/step 2>/dev/null || echo 0); echo resuming from $i; "
    "while [ $i -lt 40 ]; do i=$((i+1)); sleep 0.25; done; echo finished at $i"
)


def test_a_higher_priority_run_preempts_and_the_preempted_run_resumes(box, busybox_image, gpu_host):
    gpu_host.update([FakeGpu(GPU_A, total=24 * GiB, used=0), FakeGpu(GPU_B, total=24 * GiB, used=24 * GiB)])  # room for one 14 GiB run
    # dockerd is the host's: the checkpoint directory is a path the box and the host share
    checkpoints = box.run_files / "ckpt"
    checkpoints.mkdir(mode=0o777, exist_ok=True)
    checkpoints.chmod(0o777)
    needs = ["--gpus", "1", "--min-free-vram", "14GiB", "--stop-grace", "10s", "--image", busybox_image]
    [low] = agent(
        box, "submit", "--name", "low", "--priority", "20", "-v", f"{checkpoints}:/ckpt", *needs, "--", "sh", "-c", RESUMABLE
    ).stdout.split()[:1]
    wait_for(lambda: "resuming from 0" in box.journal(f"gpuagent-queued@{low}.service") or None, timeout=30, what="the low run going")
    time.sleep(2)
    # equal priority never preempts
    [peer] = agent(box, "submit", "--name", "peer", "--priority", "20", "--preempt", *needs, "--", "true").stdout.split()[:1]
    time.sleep(3)
    assert {entry["run_id"]: entry["state"] for entry in entries(box)} == {low: "running", peer: "waiting"}
    agent(box, "cancel", peer)
    [high] = agent(box, "submit", "--name", "high", "--priority", "90", "--preempt", *needs, "--", "sh", "-c", "echo high ran").stdout.split()[:1]
    done = wait_for(
        lambda: [r for r in runs(box, "queue/low") if r.status == "succeeded"] or None, timeout=90, what="the low run resumed and finished"
    )
    low_runs = sorted(runs(box, "queue/low"), key=lambda run: run.started_at)
    assert [run.status for run in low_runs] == ["preempted", "succeeded"], [(r.status, r.reason) for r in low_runs]
    assert low_runs[0].run_id == low and low_runs[1].first_run_id == low and low_runs[1].attempt == 2
    assert "higher priority" in low_runs[0].reason
    [high_run] = runs(box, "queue/high")
    assert high_run.status == "succeeded"
    assert low_runs[0].ended_at <= high_run.started_at + 5 and high_run.ended_at <= done[0].ended_at
    told = box.journal(f"gpuagent-queued@{low}.service")
    checkpoint = int(told.split("checkpoint at ")[1].split()[0])
    assert checkpoint > 0 and f"resuming from {checkpoint}" in told and "finished at 40" in told, told[-2000:]
    assert not entries(box)


def test_while_dockerd_does_not_answer_runs_stay_queued_and_start_once_it_does(box, busybox_image, gpu_host):
    # dockerd away, as during its restart: the box's units and commands look for it at a
    # socket where nothing answers (the host's own dockerd is shared by other tests)
    gone = {"DOCKER_HOST": "unix:///run/no-dockerd.sock"}
    box.exec(["systemctl", "set-environment", "DOCKER_HOST=unix:///run/no-dockerd.sock"])
    try:
        [queued] = box.exec(
            ["gpuagent", "submit", "--name", "patient", "--image", busybox_image, "--", "echo", "patient ran"], env={**box.gpu_env, **gone}
        ).stdout.split()[:1]
        time.sleep(4)
        [entry] = entries(box)
        assert (entry["run_id"], entry["state"]) == (queued, "waiting")
        assert not runs(box, "queue/patient"), "nothing was started, so nothing failed"
        assert "dockerd does not answer" in box.exec(["journalctl", "--no-pager", "-o", "cat", "-t", "gpuagent-dispatch"]).stdout
    finally:
        box.exec(["systemctl", "unset-environment", "DOCKER_HOST"])
    # the timer (every 10 s while a run waits) finds dockerd back
    [run] = wait_for(
        lambda: [r for r in runs(box, "queue/patient") if r.status != "running"] or None, timeout=60, what="the run after dockerd came back"
    )
    assert (run.run_id, run.status) == (queued, "succeeded")
    assert not entries(box)


def test_submit_wait_follows_the_run_and_exits_as_it_did(box, busybox_image, gpu_host):
    gpu_host.update([FakeGpu(GPU_A, total=24 * GiB), FakeGpu(GPU_B, total=24 * GiB)])
    followed = agent(
        box, "submit", "--name", "followed", "--wait", "--image", busybox_image, "--", "sh", "-c", "echo waited here; exit 3", check=False
    )
    assert followed.returncode == 1, "as trigger --wait: the agent's status, 1 for a run that failed"
    [run] = runs(box, "queue/followed")
    assert followed.stdout.split()[0] == run.run_id and "waited here" in followed.stdout
    assert run.status == "failed" and run.exit_code == 3
    assert "waited here" in agent(box, "logs", "queue/followed").stdout
