"""host/dockerd.py's Docker against the real dockerd: gpuagent speaks the Engine API
itself (http.client on the unix socket), so what the docker SDK used to do is tested
here: the create request docker reads, the attach stream's frames, dockerd's own words
when it refuses, and a container gone meanwhile."""

import threading
import time

import pytest

from gpuagent.core.errors import DockerError
from gpuagent.host.dockerd import LABEL_JOB, LABEL_RUN, Container, ContainerSpec, Docker

MiB = 1024**2


def spec(name: str, image: str, command: list[str], **settings) -> ContainerSpec:
    return ContainerSpec(
        name=name,
        labels={LABEL_JOB: "engine-api", LABEL_RUN: name},
        gpu_uuids=(),
        settings={"image": image, "command": command, "user": "65534:65534", **settings},
    )


@pytest.fixture
def docker():
    return Docker()


@pytest.fixture
def made(docker):
    containers: list[Container] = []
    yield containers
    for container in containers:
        docker.remove(container)


def run_to_the_end(docker: Docker, container: Container) -> bytes:
    chunks = docker.attach(container)
    docker.start(container)
    output = b"".join(chunks)
    docker.wait(container)
    return output


def test_what_docker_create_reads_is_what_the_options_said(docker, made, docker_client, busybox_image, tmp_path):
    (tmp_path / "in").mkdir()
    container = docker.create(
        spec("gpuagent-engine-api-options", busybox_image, ["true"], mem_limit=64 * MiB, memswap_limit=64 * MiB, nano_cpus=500_000_000,
             shm_size=16 * MiB, working_dir="/tmp", environment=["A=1"], volumes={str(tmp_path / "in"): {"bind": "/in", "mode": "ro"}},
             init=True, security_opt=["no-new-privileges"])
    )  # fmt: skip
    made.append(container)
    attrs = docker_client.api.inspect_container(container.id)
    host = attrs["HostConfig"]
    assert (host["Memory"], host["MemorySwap"], host["NanoCpus"], host["ShmSize"]) == (64 * MiB, 64 * MiB, 500_000_000, 16 * MiB)
    assert (host["Init"], host["SecurityOpt"], host["Binds"]) == (True, ["no-new-privileges"], [f"{tmp_path / 'in'}:/in:ro"])
    assert (attrs["Config"]["WorkingDir"], attrs["Config"]["User"], attrs["Name"]) == ("/tmp", "65534:65534", "/gpuagent-engine-api-options")
    assert "A=1" in attrs["Config"]["Env"] and attrs["Config"]["Labels"][LABEL_JOB] == "engine-api"
    assert [(listed.id, listed.name) for listed in docker.job_containers("engine-api")] == [(container.id, container.name)]


def test_stdout_and_stderr_arrive_whole_from_the_attach_frames(docker, made, busybox_image):
    """A frame is at most what docker read at once: 1 MiB on stdout, a line on stderr
    (its own pipe: where it falls among stdout's is docker's), and a last line with no
    newline arrive byte for byte."""
    script = "i=0; while [ $i -lt 16384 ]; do echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde; i=$((i+1)); done; echo err >&2; printf tail"
    container = docker.create(spec("gpuagent-engine-api-frames", busybox_image, ["sh", "-c", script]))
    made.append(container)
    output = run_to_the_end(docker, container)
    assert output.count(b"err\n") == 1
    assert output.replace(b"err\n", b"") == b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n" * 16384 + b"tail"
    assert docker.exit_state(container).exit_code == 0


def test_the_attach_stream_gives_each_line_once_and_ends_with_the_container(docker, made, busybox_image):
    """An attach joins the container's streams and nothing else. A run attaches before the
    start, so dockerd has nothing to replay yet; here it attaches while the container
    writes, which widens the moment a replay of its logs would race with the stream: with
    `logs=1` the lines came twice, or went missing, or the stream outlived the container."""
    count = 100_000
    script = f"i=0; while [ $i -lt {count} ]; do i=$((i+1)); echo $i; done"
    container = docker.create(spec("gpuagent-engine-api-attach-once", busybox_image, ["sh", "-c", script]))
    made.append(container)
    docker.start(container)
    time.sleep(0.2)  # while it writes
    chunks = docker.attach(container)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.extend(chunks), daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "the attach stream did not end when the container did"
    numbers = [int(line) for line in b"".join(read).split()]
    assert numbers, "the container ended before the attach: nothing was tested"
    assert numbers == list(range(numbers[0], count + 1)), "a line arrived twice or went missing"


def test_a_refusal_is_dockerd_own_words(docker, busybox_image):
    with pytest.raises(DockerError, match=r"docker could not create the container: .*Invalid container name"):
        docker.create(spec("bad name!", busybox_image, ["true"]))
    with pytest.raises(DockerError, match=r"docker could not create the container: Minimum memory limit allowed is 6MB"):
        docker.create(spec("gpuagent-engine-api-refused", busybox_image, ["true"], mem_limit=MiB))


def test_a_container_gone_meanwhile_is_no_error_where_gone_is_the_goal(docker, busybox_image):
    container = docker.create(spec("gpuagent-engine-api-gone", busybox_image, ["true"]))
    docker.remove(container)
    docker.remove(container)
    docker.stop(container, grace=1)
    docker.hang_up(container)
    with pytest.raises(DockerError, match="docker could not inspect the container: not found"):
        docker.exit_state(container)
