"""The metrics gpuagent writes for node_exporter, from real job files and a real history
database, read back with prometheus_client's own parser. systemd is not running here, so
the timer's metrics (enabled, next fire, missed fire) are absent: the e2e test reads them
in a booted systemd."""

import time

import pytest

from gpuagent.core.paths import resolve_paths
from gpuagent.observe.metrics import FAMILIES, _render, refresh
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


# Hostile and awkward values of every kind of family: escapes in labels, numbers Go writes
# with an exponent, integers, infinities, an empty family left out.
SAMPLES = [
    ("gpuagent", {"version": "1.2.3"}, 1),
    ("gpuagent_jobs", {}, 3),
    ("gpuagent_job", {"job_name": "a", "image": 'reg/x:"q"', "schedule": "back\\slash\nnewline"}, 1),
    ("gpuagent_job_last_run_start_timestamp_seconds", {"job_name": "a"}, 1765100000.123456),
    ("gpuagent_job_last_run_start_timestamp_seconds", {"job_name": "b"}, 12.5),
    ("gpuagent_job_last_run_peak_vram_bytes", {"job_name": "a"}, 80 * GiB),
    ("gpuagent_job_last_success_metric", {"job_name": "a", "metric": "loss"}, float("inf")),
    ("gpuagent_job_last_success_metric", {"job_name": "a", "metric": "nan"}, float("nan")),
    ("gpuagent_job_last_success_metric", {"job_name": "a", "metric": "neg"}, -1e300),
    ("gpuagent_job_last_success_metric", {"job_name": "a", "metric": "tiny"}, 1e-12),
    ("gpuagent_job_runs", {"job_name": "a", "status": "failed"}, 7),
    ("gpuagent_queued_runs", {"status": "succeeded"}, 0),
]


def prometheus_clients_text(samples) -> str:
    """What prometheus_client's generate_latest writes for the same samples."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

    families = []
    for name, metric in FAMILIES.items():
        mine = [sample for sample in samples if sample[0] == name]
        if not mine:
            continue
        if metric.kind == "info":
            family = InfoMetricFamily(name, metric.help, labels=metric.labels[:1])
            for _, labels, _ in mine:
                family.add_metric([labels[metric.labels[0]]], {k: v for k, v in labels.items() if k != metric.labels[0]})
        else:
            family = (CounterMetricFamily if metric.kind == "counter" else GaugeMetricFamily)(name, metric.help, labels=metric.labels)
            for _, labels, value in mine:
                family.add_metric([labels[key] for key in metric.labels], value)
        families.append(family)

    class Snapshot:
        def collect(self):
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot())
    return generate_latest(registry).decode()


def test_the_text_is_prometheus_clients_to_the_byte():
    assert _render(SAMPLES) == prometheus_clients_text(SAMPLES)
    assert _render([]) == ""
