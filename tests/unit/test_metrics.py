"""The metrics gpuagent writes for node_exporter, from real job files and a real history
database, read back with prometheus_client's own parser. systemd is not running here, so
the timer's metrics (enabled, next fire, missed fire) are absent: the e2e test reads them
in a booted systemd."""

import time

import pytest

from gpuagent.core.paths import resolve_paths
from gpuagent.observe.metrics import refresh
from tests.gpu_sim import GiB
from tests.support.agent import AgentHome
from tests.support.records import record, run_record

NOW = time.time()
HOUR = 3600.0


@pytest.fixture
def home(tmp_path):
    home = AgentHome(tmp_path / "agent")
    home.write_job("nightly", "gpuagent-test/busybox:latest", ["python", "train.py"], gpus=1)
    home.write_job("idle", "gpuagent-test/busybox:latest", ["true"])
    runs = ["failed", "skipped-vram", "cuda-oom", "succeeded", "failed", "succeeded"]  # newest first
    record(
        home.root / "state" / "history.db",
        *(
            run_record(f"n{n}", "nightly", status, NOW - (n + 1) * HOUR, took=60.0 + n, peak_vram_bytes=(n + 1) * GiB)
            for n, status in enumerate(runs)
        ),
    )
    return home


def paths_of(home: AgentHome):
    return resolve_paths(user_mode=False, env=home.env)


def test_without_node_exporters_directory_nothing_is_written(home):
    home.env["GPUAGENT_TEXTFILE_DIR"] = str(home.root / "not-installed")
    lines = []
    refresh(paths_of(home), lines.append)
    assert not (home.root / "not-installed").exists() and lines == []
