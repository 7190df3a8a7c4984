"""dcgm-exporter's HPC job mapping on a simulated GPU host: while a run holds a GPU, the
file named by that GPU's index holds the job's name; it goes when the run ends, and, for
an agent killed outright, at the reap."""

import signal

import pytest

from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import AgentHome, wait_for

FIRST = "GPU-00000000-aaaa-0000-0000-000000000000"
SECOND = "GPU-11111111-bbbb-0000-0000-000000000000"


@pytest.fixture
def gpu_host(tmp_path):
    return FakeGpuHost(tmp_path, gpus=[FakeGpu(uuid=FIRST, total=24 * GiB, used=20 * GiB), FakeGpu(uuid=SECOND, total=80 * GiB, used=10 * GiB)])


@pytest.fixture
def home(tmp_path, gpu_host):
    return AgentHome(tmp_path / "agent", extra_env=gpu_host.env())


def mapping(home: AgentHome) -> dict[str, list[str]]:
    directory = home.root / "runtime" / "hpc-jobs"
    """The files dcgm-exporter reads (named by a GPU index; not a write's temporary file)."""
    paths = [path for path in directory.iterdir() if path.name.isdigit()] if directory.is_dir() else []
    return {path.name: path.read_text().splitlines() for path in paths}


def test_a_run_maps_its_gpu_to_its_job_while_it_runs(home, busybox_image):
    home.write_job("train", busybox_image, ["sh", "-c", "echo started; sleep 3"], gpus=1, min_free_vram="20GiB")
    agent = home.popen("run", "train")
    try:
        # only GPU 1 has 20 GiB free
        assert wait_for(lambda: mapping(home), timeout=60, what="the mapping file") == {"1": ["train"]}
    finally:
        agent.communicate(timeout=60)
    assert agent.returncode == 0
    assert mapping(home) == {}


def test_runs_sharing_a_gpu_are_lines_of_its_file(home, busybox_image):
    for name in ("left", "right"):
        home.write_job(name, busybox_image, ["sh", "-c", "sleep 4"], gpus=1, min_free_vram="20GiB", gpu_ids=["1"])
    home.write_job("short", busybox_image, ["sh", "-c", "sleep 1"], gpus=1, gpu_ids=["1"])
    agents = [home.popen("run", name) for name in ("left", "right")]
    try:
        both = wait_for(lambda: (found := mapping(home)) and len(found.get("1", [])) == 2 and found, timeout=60, what="two jobs on GPU 1")
        assert sorted(both["1"]) == ["left", "right"]
        assert home.run("run", "short").returncode == 0
        assert sorted(mapping(home)["1"]) == ["left", "right"], "a run ending takes only its own line away"
    finally:
        for agent in agents:
            agent.communicate(timeout=60)
    assert mapping(home) == {}


def test_an_agent_killed_outright_leaves_its_line_until_the_reap(home, busybox_image):
    home.write_job("doomed", busybox_image, ["sh", "-c", "echo started; sleep 600"], gpus=1, min_free_vram="20GiB")
    agent = home.popen("run", "doomed")
    wait_for(lambda: mapping(home), timeout=60, what="the mapping file")
    wait_for(lambda: home.runs("doomed") and home.runs("doomed")[0].container_id, timeout=60, what="the container")
    agent.send_signal(signal.SIGKILL)
    agent.communicate(timeout=30)
    assert mapping(home) == {"1": ["doomed"]}, "nobody was left to take it away"

    reaped = home.run("reap", "doomed")
    assert reaped.returncode == 0, reaped.stderr
    assert mapping(home) == {}
    assert home.last_run("doomed").status == "lost"
