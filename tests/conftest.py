"""Fixtures shared by every test directory, and the tier rule: each folder under tests/ is
a tier, and every test in it gets the marker of that name (registered in pyproject.toml),
so `pytest -m "not systemd"` and friends select by what a test needs. tests/run.sh names
the lanes."""

import time
from pathlib import Path

import pytest

from tests.gpu_sim import FakeGpuHost
from tests.support.images import ensure_busybox_image, ensure_python_image

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # a tier is a registered marker that names a folder here, in the order registered:
    # the cheapest first, so a whole run fails fast
    names = [line.split(":")[0].strip() for line in config.getini("markers")]
    tiers = [name for name in names if (TESTS / name).is_dir()]
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        if tier not in tiers:
            raise pytest.UsageError(f"{item.nodeid}: tests live in a tier folder, one of {', '.join(tiers)} (pyproject.toml's markers)")
        item.add_marker(tier)
    items.sort(key=lambda item: tiers.index(item.path.relative_to(TESTS).parts[0]))


# Seconds spent in each tier (set-up, call and tear-down: a module's booted box counts
# too), printed at the end of the run, for the time each tier adds.
_tier_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tier = Path(report.fspath).parts[1] if Path(report.fspath).parts[0] == "tests" else "?"
    _tier_seconds[tier] = _tier_seconds.get(tier, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if _tier_seconds:
        spent = ", ".join(f"{tier} {seconds:.1f} s" for tier, seconds in sorted(_tier_seconds.items(), key=lambda kv: -kv[1]))
        terminalreporter.write_line(f"time per tier: {spent}")


@pytest.fixture(autouse=True)
def no_metrics_on_this_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test's gpuagent never writes metrics into this host's node_exporter directory (it
    exists once tests/setup-host.sh installed node_exporter): the default directory is
    one that is not there, unless the test's AgentHome or host config names another."""
    monkeypatch.setenv("GPUAGENT_TEXTFILE_DIR", str(tmp_path / "no-node-exporter"))


@pytest.fixture
def fake_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGpuHost:
    """A simulated NVIDIA host with no GPUs yet, which this process's pynvml reads:
    `fake_gpus.update([FakeGpu(...), ...])` to describe GPUs, `fake_gpus.env()` for a
    subprocess."""
    host = FakeGpuHost(tmp_path)
    host.activate(monkeypatch)
    return host


@pytest.fixture
def local_time_zone(monkeypatch: pytest.MonkeyPatch):
    """Call it with a zone name ("UTC", "Europe/Berlin") to make that this process's
    local time zone for the test."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def docker_client():
    """The host's real dockerd (tests/setup-host.sh starts it), for the docker and engines tiers."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        pytest.fail(f"dockerd is not reachable ({e}): run `sudo tests/setup-host.sh`", pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    """Tag of the local busybox test image (built on first use)."""
    return ensure_busybox_image()


@pytest.fixture(scope="session")
def python_image(docker_client) -> str:
    """Tag of the local Debian python3.11 test image (built on first use)."""
    return ensure_python_image()
