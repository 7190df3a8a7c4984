"""Monitoring end to end: jobs run in a booted systemd, the host's real node_exporter serves
the metrics files gpuagent writes in the box's node_exporter directory, and a real
Prometheus scrapes them and evaluates the shipped alert rules (monitoring/prometheus/)."""

import pytest

from tests.support.boxed import finished_runs, gpuagent
from tests.support.prometheus import node_exporter, prometheus

# Debian's node_exporter directory: gpuagent's default, used once it exists.
TEXTFILES = "var/lib/prometheus/node-exporter"


@pytest.fixture(scope="module")
def watched(systemd_box, tmp_path_factory):
    """Prometheus scraping a node_exporter that reads the box's textfile directory."""
    textfiles = systemd_box.root / TEXTFILES
    textfiles.mkdir(parents=True, exist_ok=True)
    with node_exporter(textfiles) as exporter, prometheus(tmp_path_factory.mktemp("prometheus"), targets=[exporter.address]) as server:
        server.wait_for_scrape()
        yield server


def test_a_runs_end_is_the_last_success_time_prometheus_has(systemd_box, watched, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "nightly", "--at", "03:00", "--image", busybox_image, "--", "true")
    gpuagent(box, "trigger", "nightly", "--wait")
    [run] = finished_runs(box, "nightly")
    assert run.status == "succeeded"

    expr = 'gpuagent_job_last_success_timestamp_seconds{job_name="nightly"}'
    [sample] = watched.wait_for_query(expr)
    assert float(sample["value"][1]) == pytest.approx(run.ended_at, abs=1e-3)
    assert watched.values('gpuagent_job_enabled{job_name="nightly"}') == {"nightly": 1.0}
    assert watched.values('gpuagent_job_runs_total{job_name="nightly",status="succeeded"}') == {"nightly": 1.0}
    [next_fire] = watched.query('gpuagent_job_next_fire_timestamp_seconds{job_name="nightly"}')
    assert float(next_fire["value"][1]) > run.ended_at, "a timer in a real systemd has its next elapse"
    assert watched.alert("GpuagentJobFailing", job_name="nightly") is None


def test_a_job_failing_three_runs_fires_its_alert(systemd_box, watched, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "broken", "--at", "03:00", "--image", busybox_image, "--", "sh", "-c", "echo no data; exit 3")
    for _ in range(2):
        assert gpuagent(box, "trigger", "broken", "--wait", check=False).returncode == 1
    watched.wait_for_query('gpuagent_job_consecutive_failures{job_name="broken"} == 2')
    assert watched.alert("GpuagentJobFailing", job_name="broken") is None, "two failures are not yet a failing job"

    assert gpuagent(box, "trigger", "broken", "--wait", check=False).returncode == 1
    assert [run.status for run in finished_runs(box, "broken", count=3)] == ["failed"] * 3
    alert = watched.wait_for_alert("GpuagentJobFailing", job_name="broken", timeout=60)
    assert alert["state"] == "firing"
    assert "gpuagent history broken" in alert["annotations"]["description"]


def test_a_removed_jobs_metrics_go_from_prometheus(systemd_box, watched, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "brief", "--at", "03:00", "--image", busybox_image, "--", "true")
    watched.wait_for_query('gpuagent_job_info{job_name="brief"}')
    gpuagent(box, "remove", "brief")
    assert not (box.root / TEXTFILES / "gpuagent-job-brief.prom").exists()
    watched.wait_for_query('absent(gpuagent_job_info{job_name="brief"})')


def test_a_run_its_timer_started_leaves_the_next_fire_in_its_metrics(systemd_box, watched, busybox_image):
    # systemd arms the timer again only once the run has ended, after the run's own last
    # metrics write: the next fire must come from the schedule then, or the metric (and
    # the overdue alert on it) is gone after every scheduled run
    box = systemd_box
    gpuagent(box, "add", "often", "--on", "*:*:00/15", "--image", busybox_image, "--", "true")
    [run] = finished_runs(box, "often", timeout=60)
    text = (box.root / TEXTFILES / "gpuagent-job-often.prom").read_text()
    [line] = [line for line in text.splitlines() if line.startswith("gpuagent_job_next_fire_timestamp_seconds")]
    assert run.ended_at < float(line.split()[-1]) <= run.ended_at + 20  # the next 15 s slot after the write
    gpuagent(box, "remove", "often")
