"""Fixtures shared by every test directory."""

import time
from pathlib import Path

import pytest

from tests.gpu_sim import FakeGpuHost


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
