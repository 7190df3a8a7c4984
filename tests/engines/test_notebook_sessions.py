"""A notebook's agent (`gpuagent notebook serve`, what its unit runs) against the real
dockerd, a real JupyterLab (the locally built notebook image) and a simulated GPU: where
it listens, who may use it, what it reserves, and what is left when its agent dies.

Its systemd unit, `notebook start`, `stop` and the idle timeout are tests/systemd's."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gpuagent.core.paths import resolve_paths
from gpuagent.host.dockerd import LABEL_JOB
from gpuagent.sessions.jupyterlab import NotebookSpec
from gpuagent.sessions.live_notebooks import write_notebook
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import AgentHome, wait_for
from tests.support.images import ensure_notebook_image

GPU = "GPU-0b0b0b0b-0000-0000-0000-000000000000"
TOKEN = "c0ffee" * 8


@pytest.fixture(scope="module")
def notebook_image() -> str:
    return ensure_notebook_image()


@pytest.fixture
def gpu_host(tmp_path):
    return FakeGpuHost(tmp_path, gpus=[FakeGpu(uuid=GPU, total=80 * GiB, used=0)])


@pytest.fixture
def home(tmp_path, gpu_host):
    return AgentHome(tmp_path / "agent", extra_env=gpu_host.env())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_serving(home: AgentHome, name: str, image: str, max_time: int = 7200, **settings):
    """The notebook's file as `notebook start` writes it, and its agent, as its unit runs it."""
    paths = resolve_paths(user_mode=False, env=home.env)
    spec = NotebookSpec(name, {"image": image, **settings}, free_port(), TOKEN, 3600, max_time, None, time.time())
    write_notebook(paths, spec)
    return spec, home.popen("notebook", "serve", name)


def status_code(port: int, token: str | None, host: str = "127.0.0.1") -> int:
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/api/status", headers=headers), timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def answering(spec: NotebookSpec, agent) -> None:
    def up():
        assert agent.poll() is None, agent.communicate()
        try:
            return status_code(spec.port, TOKEN) == 200
        except OSError:
            return False

    wait_for(up, timeout=90, interval=0.2, what="JupyterLab to answer")


def containers(docker_client, holder: str):
    return docker_client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={holder}"}, ignore_removed=True)


def host_addresses() -> list[str]:
    """This host's IPv4 addresses other than loopback (eth0's, docker0's...)."""
    words = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    return sorted({word for word in words if "." in word and not word.startswith("127.")})


def test_a_notebook_answers_its_token_on_loopback_only_and_holds_its_gpu(home, gpu_host, notebook_image, docker_client):
    spec, agent = start_serving(home, "lab", notebook_image, gpus=1, min_free_vram="60GiB")
    try:
        answering(spec, agent)

        assert status_code(spec.port, None) == 403, "no token, no notebook"
        assert status_code(spec.port, "wrong") == 403
        others = host_addresses()
        assert others, "this test needs an address besides loopback"
        for address in others:
            with pytest.raises(OSError):  # refused: nothing listens there
                socket.create_connection((address, spec.port), timeout=3).close()
        [container] = containers(docker_client, "notebook/lab")
        bindings = container.attrs["HostConfig"]["PortBindings"]
        assert bindings == {"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(spec.port)}]}
        assert container.attrs["Config"]["User"] != "root" and not container.attrs["Config"]["User"].startswith("0")
        assert not any(TOKEN in _cmdline(pid) for pid in _pids()), "the token is on a command line every user can read"
        [running] = home.runs("notebook/lab")
        assert running.status == "running" and running.gpu_uuids == (GPU,)

        reserved = json.loads(home.run("gpus", "--json").stdout)["gpus"][0]["reserved"]
        assert reserved == [{"holder": "notebook/lab", "run_id": running.run_id, "bytes": 60 * GiB}], "gpus names the notebook as what holds the GPU"

        # 80 GiB free as NVML sees it, 60 of them the notebook's: a run that needs 30 waits
        home.write_job("nightly", "gpuagent-test/busybox:latest", ["echo", "trained"], gpus=1, min_free_vram="30GiB", vram_wait="2m")
        run = home.popen("run", "nightly")
        wait_for(lambda: home.runs("nightly"), what="the run's row")
        time.sleep(4)
        assert run.poll() is None, "the run must wait while the notebook holds the memory"

        agent.send_signal(signal.SIGTERM)  # what `notebook stop` (systemctl stop) sends
        assert agent.wait(timeout=60) == 0, agent.communicate()
        stdout, stderr = run.communicate(timeout=60)
        assert run.returncode == 0 and stdout == "trained\n", stderr
        assert "waiting for GPU memory" in stderr
    finally:
        if agent.poll() is None:
            agent.kill()
    [ended] = home.runs("notebook/lab")
    assert ended.status == "stopped" and ended.ended_at is not None
    assert containers(docker_client, "notebook/lab") == []
    assert not (Path(home.env["GPUAGENT_RUNTIME_DIR"]) / "notebooks" / "lab.json").exists(), "its token outlived it"


def test_the_container_of_a_sigkilled_notebook_agent_is_reaped(home, notebook_image, docker_client):
    spec, agent = start_serving(home, "doomed", notebook_image)
    answering(spec, agent)
    agent.kill()  # SIGKILL: it cannot clean up
    agent.wait(timeout=10)
    assert containers(docker_client, "notebook/doomed"), "the container outlives a killed agent"

    reaped = home.run("reap", "notebook/doomed")  # the unit's ExecStopPost

    assert reaped.returncode == 0, reaped.stderr
    assert containers(docker_client, "notebook/doomed") == []
    [lost] = home.runs("notebook/doomed")
    assert lost.status == "lost"
    assert not (Path(home.env["GPUAGENT_RUNTIME_DIR"]) / "notebooks" / "doomed.json").exists()


def test_a_notebook_is_stopped_at_its_max_time_as_no_failure(home, notebook_image, docker_client):
    spec, agent = start_serving(home, "brief", notebook_image, max_time=8)
    answering(spec, agent)

    assert agent.wait(timeout=60) == 0, "its unit ends as a success"
    [ended] = home.runs("notebook/brief")
    assert ended.status == "timed-out" and "--max-time 8s" in ended.reason
    assert 8 <= ended.duration < 40
    assert containers(docker_client, "notebook/brief") == []


def test_an_image_without_jupyterlab_says_what_to_build(home, busybox_image, docker_client):
    spec, agent = start_serving(home, "plain", busybox_image)
    assert agent.wait(timeout=60) == 1
    [failed] = home.runs("notebook/plain")
    assert failed.status == "failed" and failed.exit_code == 127
    assert "images/notebook" in failed.reason
    assert containers(docker_client, "notebook/plain") == []


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
