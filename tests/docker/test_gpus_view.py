"""`gpuagent gpus` on a simulated GPU host: NVML's host PIDs mapped through /proc to the
real containers dockerd runs, and through their labels to gpuagent jobs."""

import json
import os

import pytest

from gpuagent.host.dockerd import LABEL_JOB
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import AgentHome
from tests.support.json_schema import GPUS, check

UUID = "GPU-aaaaaaaa-0000-0000-0000-000000000000"


@pytest.fixture
def containers(docker_client, busybox_image):
    """A container of gpuagent job `mapped`, and one someone else started."""
    started = [
        docker_client.containers.run(busybox_image, ["sleep", "120"], detach=True, labels=labels)
        for labels in ({LABEL_JOB: "mapped"}, {"gpuagent-test": "not-ours"})
    ]
    for container in started:
        container.reload()
    yield started
    for container in started:
        container.remove(force=True)


def test_processes_are_mapped_to_their_jobs(tmp_path, containers):
    ours, theirs = containers
    host = FakeGpuHost(
        tmp_path,
        [FakeGpu(UUID, used=8 * GiB, processes=[(ours.attrs["State"]["Pid"], 5 * GiB), (theirs.attrs["State"]["Pid"], 2 * GiB), (os.getpid(), GiB)])],
    )
    home = AgentHome(tmp_path / "agent", extra_env=host.env())

    result = home.run("gpus", "--json")
    text = home.run("gpus")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    check(report, GPUS)
    mapped, other, agent = report["gpus"][0]["processes"]
    assert (mapped["container_id"], mapped["job"], mapped["used_bytes"]) == (ours.id, "mapped", 5 * GiB)
    assert (other["container_id"], other["job"]) == (theirs.id, None)
    assert agent["job"] is None and agent["pid"] == os.getpid()
    rows = [line.split() for line in text.stdout.splitlines()]
    assert ["0", str(ours.attrs["State"]["Pid"]), "mapped", "5GiB"] in rows
    assert ["0", str(theirs.attrs["State"]["Pid"]), "other", "2GiB"] in rows


def test_a_gpu_without_processes_does_not_ask_docker(tmp_path):
    host = FakeGpuHost(tmp_path, [FakeGpu(UUID)])
    home = AgentHome(tmp_path / "agent", extra_env={**host.env(), "DOCKER_HOST": "unix:///nonexistent.sock"})

    result = home.run("gpus", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["docker_error"] is None


def test_when_docker_is_down_the_jobs_are_unknown_not_other(tmp_path, containers):
    ours, _ = containers
    host = FakeGpuHost(tmp_path, [FakeGpu(UUID, processes=[(ours.attrs["State"]["Pid"], GiB)])])
    home = AgentHome(tmp_path / "agent", extra_env={**host.env(), "DOCKER_HOST": "unix:///nonexistent.sock"})

    report = json.loads(home.run("gpus", "--json").stdout)
    text = home.run("gpus").stdout

    assert "docker is unreachable" in report["docker_error"]
    assert report["gpus"][0]["processes"][0]["job"] is None
    assert "unknown" in text.splitlines()[-2] and "jobs of containers unknown" in text
