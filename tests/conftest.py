"""Fixtures shared by every test directory."""

from pathlib import Path

import pytest

from tests.gpu_sim import FakeGpuHost


@pytest.fixture
def fake_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGpuHost:
    """A simulated NVIDIA host with no GPUs yet, which this process's pynvml reads:
    `fake_gpus.update([FakeGpu(...), ...])` to describe GPUs, `fake_gpus.env()` for a
    subprocess."""
    host = FakeGpuHost(tmp_path)
    host.activate(monkeypatch)
    return host
