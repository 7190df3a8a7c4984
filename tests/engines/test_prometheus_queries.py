"""The monitoring assets against a real Prometheus 2 and node_exporter (Debian's, which
tests/setup-host.sh installs): every query of the dashboard and every rule expression
parses, and gpuagent-shaped files in a textfile directory are scraped, queried and
alerted on by the shipped rules."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.agent import wait_for
from tests.support.prometheus import DASHBOARD, RULES, SCRAPE_JOB, QueryError, binary, node_exporter, prometheus
from tests.support.promql import GPUAGENT_NAMES, alerting_rules, dashboard_queries, grafana_to_promql, load_dashboard, load_rules, rule_expressions

DASHBOARD_QUERIES = dashboard_queries(load_dashboard(DASHBOARD))
RULE_EXPRESSIONS = rule_expressions(load_rules(RULES))
ALERT_NAMES = sorted(rule["alert"] for rule in alerting_rules(load_rules(RULES)))


@pytest.fixture(scope="module")
def bare_prometheus(tmp_path_factory):
    """Prometheus with the shipped rules and nothing to scrape."""
    with prometheus(tmp_path_factory.mktemp("prometheus")) as prom:
        yield prom


def test_a_query_that_does_not_parse_is_refused(bare_prometheus):
    # what the checks below rely on: a parse error is an error, not an empty result
    with pytest.raises(QueryError) as refused:
        bare_prometheus.query("sum by (job_name (gpuagent_jobs)")
    assert refused.value.error_type == "bad_data"
    assert bare_prometheus.query("gpuagent_jobs") == []


@pytest.mark.parametrize("where, expr", DASHBOARD_QUERIES, ids=[where for where, _ in DASHBOARD_QUERIES])
def test_dashboard_query_parses(bare_prometheus, where, expr):
    promql = grafana_to_promql(expr)
    assert "$" not in promql.replace('"$1"', ""), "a Grafana variable left (label_replace's $1 is not one)"
    bare_prometheus.query(promql)  # raises QueryError (bad_data) when it does not parse


@pytest.mark.parametrize("name, expr", RULE_EXPRESSIONS, ids=[name for name, _ in RULE_EXPRESSIONS])
def test_rule_expression_parses(bare_prometheus, name, expr):
    bare_prometheus.query(expr)


def test_prometheus_loads_and_evaluates_every_rule(bare_prometheus):
    def evaluated():
        groups = bare_prometheus.api("rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return rules if rules and all(rule["health"] != "unknown" for rule in rules) else None

    rules = wait_for(evaluated, timeout=20, what="a first evaluation of every rule")
    assert sorted(rule["name"] for rule in rules) == ALERT_NAMES
    assert {rule["name"]: rule.get("lastError", "") for rule in rules if rule["health"] != "ok"} == {}


# -- scraped from node_exporter ------------------------------------------------------------

STATUSES = ("running", "succeeded", "failed", "oom-killed", "cuda-oom", "timed-out", "stopped", "skipped-vram", "skipped-overlap", "lost", "error")


def host_file(jobs: int) -> str:
    return (
        "# HELP gpuagent_info This host's gpuagent (the metrics writer).\n"
        "# TYPE gpuagent_info gauge\n"
        'gpuagent_info{version="0.1.0"} 1.0\n'
        "# HELP gpuagent_jobs Jobs defined on this host (job files).\n"
        "# TYPE gpuagent_jobs gauge\n"
        f"gpuagent_jobs {jobs}.0\n"
    )


def job_file(name: str, now: float, *, period: float, last: str, failures: int, runs: dict[str, int], last_success: float | None) -> str:
    """A job's file as gpuagent writes it (one HELP text per family, as node_exporter
    requires across files)."""
    j = f'job_name="{name}"'
    lines = [
        ("gpuagent_job_info", "gauge", "A job: its image and schedule.", [f'{{{j},image="busybox:latest",schedule="every {period:.0f}s"}} 1.0']),
        ("gpuagent_job_enabled", "gauge", "1 when the job's timer is enabled.", [f"{{{j}}} 1.0"]),
        ("gpuagent_job_next_fire_timestamp_seconds", "gauge", "When the job's timer fires next.", [f"{{{j}}} {now + period / 2:.3f}"]),
        ("gpuagent_job_period_seconds", "gauge", "The longest time between two fires of the job's schedule.", [f"{{{j}}} {period}"]),
        ("gpuagent_job_missed_fire", "gauge", "1 when the timer's last fire left no run in history.", [f"{{{j}}} 0.0"]),
        (
            "gpuagent_job_last_run_status",
            "gauge",
            "1 for the status of the job's last run, 0 for the others.",
            [f'{{{j},status="{s}"}} {float(s == last)}' for s in STATUSES],
        ),
        ("gpuagent_job_last_run_duration_seconds", "gauge", "How long the job's last run took.", [f"{{{j}}} 42.5"]),
        ("gpuagent_job_last_run_peak_vram_bytes", "gauge", "The most GPU memory the last run's container held.", [f"{{{j}}} 1.073741824e+09"]),
        (
            "gpuagent_job_runs_total",
            "counter",
            "The job's runs in history, by how they ended.",
            [f'{{{j},status="{s}"}} {float(runs.get(s, 0))}' for s in STATUSES],
        ),
        (
            "gpuagent_job_consecutive_failures",
            "gauge",
            "Failed runs since the job's last success (skips do not count).",
            [f"{{{j}}} {float(failures)}"],
        ),
    ]
    if last_success is not None:
        lines.append(
            ("gpuagent_job_last_success_timestamp_seconds", "gauge", "When the job's last successful run ended.", [f"{{{j}}} {last_success:.3f}"])
        )
    text = ""
    for family, kind, help_text, samples in lines:
        text += f"# HELP {family} {help_text}\n# TYPE {family} {kind}\n" + "".join(f"{family}{sample}\n" for sample in samples)
    return text


@pytest.fixture(scope="module")
def textfile_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("textfile")
    now = time.time()
    (directory / "gpuagent.prom").write_text(host_file(jobs=2))
    # failed its last 3 runs
    (directory / "gpuagent-job-nightly.prom").write_text(
        job_file("nightly", now, period=86400, last="failed", failures=3, runs={"succeeded": 4, "failed": 3}, last_success=now - 3 * 86400)
    )
    # healthy, but its file was last written three days ago: stale for an hourly job
    hourly = directory / "gpuagent-job-hourly.prom"
    hourly.write_text(job_file("hourly", now, period=3600, last="succeeded", failures=0, runs={"succeeded": 10}, last_success=now - 60))
    os.utime(hourly, (now - 3 * 86400, now - 3 * 86400))
    return directory


def test_the_sample_files_are_valid_exposition_of_gpuagent_names(textfile_dir):
    promtool = binary("promtool")
    for path in sorted(textfile_dir.glob("*.prom")):
        text = path.read_text()
        families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
        assert families <= GPUAGENT_NAMES, path.name
        lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert lint.returncode == 0, f"{path.name}: {lint.stdout}{lint.stderr}"


@pytest.fixture(scope="module")
def scraping(textfile_dir, tmp_path_factory):
    with node_exporter(textfile_dir) as exporter, prometheus(tmp_path_factory.mktemp("prometheus"), targets=[exporter.address]) as prom:
        prom.wait_for_scrape()
        yield exporter, prom


def test_node_exporter_serves_the_files(scraping, textfile_dir):
    exporter, _ = scraping
    text = exporter.metrics()
    assert 'gpuagent_job_consecutive_failures{job_name="nightly"} 3' in text
    assert f'node_textfile_mtime_seconds{{file="{textfile_dir / "gpuagent-job-hourly.prom"}"}}' in text
    assert "node_textfile_scrape_error 0" in text


def test_prometheus_queries_the_scraped_metrics(scraping):
    exporter, prom = scraping
    prom.wait_for_query("gpuagent_job_consecutive_failures")
    assert prom.values("gpuagent_job_consecutive_failures") == {"nightly": 3.0, "hourly": 0.0}
    (info,) = prom.query("gpuagent_info")
    assert info["metric"] == {"__name__": "gpuagent_info", "version": "0.1.0", "instance": exporter.address, "job": SCRAPE_JOB}
    assert prom.values('gpuagent_job_last_run_status{status="failed"} == 1') == {"nightly": 1.0}
    assert prom.values('sum by (job_name) (gpuagent_job_runs_total{status="succeeded"})') == {"nightly": 4.0, "hourly": 10.0}
    (scrape_error,) = prom.query("node_textfile_scrape_error")
    assert scrape_error["value"][1] == "0"


def test_the_failing_job_alert_fires(scraping):
    exporter, prom = scraping
    alert = prom.wait_for_alert("GpuagentJobFailing", "firing", timeout=30, job_name="nightly")
    assert alert["labels"]["severity"] == "critical"
    assert "gpuagent history nightly" in alert["annotations"]["description"]
    assert alert["annotations"]["summary"] == f"gpuagent job nightly on {exporter.address} failed its last 3 runs"
    assert prom.alert("GpuagentJobFailing", job_name="hourly") is None


def test_the_stale_file_alert_reads_node_exporters_file_label(scraping, textfile_dir):
    # pending (its `for` is 10m): the job name came out of node_exporter's own file label
    _, prom = scraping
    alert = prom.wait_for_alert("GpuagentJobMetricsStale", "pending", timeout=30, job_name="hourly")
    assert alert["labels"]["file"] == str(textfile_dir / "gpuagent-job-hourly.prom")
    assert prom.alert("GpuagentJobMetricsStale", job_name="nightly") is None


def test_only_the_expected_alerts_are_active(scraping):
    _, prom = scraping
    prom.wait_for_alert("GpuagentJobFailing", "firing", timeout=30, job_name="nightly")
    prom.wait_for_alert("GpuagentJobMetricsStale", "pending", timeout=30, job_name="hourly")
    active = sorted((alert["labels"]["alertname"], alert["labels"].get("job_name", "")) for alert in prom.alerts())
    # nightly last succeeded 3 days ago, beyond two of its periods: pending for its 15m
    assert active == [("GpuagentJobFailing", "nightly"), ("GpuagentJobMetricsStale", "hourly"), ("GpuagentJobNotSucceeding", "nightly")]


# -- two hosts on one Prometheus -------------------------------------------------------------


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    """Two node_exporters, each a host of its own (instance gpu-a and gpu-b, as the scrape
    config of docs/monitoring.md names them): gpu-a's job fails, the same job on gpu-b goes
    well; then gpu-b's gpuagent.prom is deleted."""
    now = time.time()
    directories = {}
    for host, failures in (("gpu-a", 3), ("gpu-b", 0)):
        directory = tmp_path_factory.mktemp(host)
        (directory / "gpuagent.prom").write_text(host_file(jobs=1))
        last = "failed" if failures else "succeeded"
        runs = {"succeeded": 4, "failed": failures}
        text = job_file("nightly", now, period=86400, last=last, failures=failures, runs=runs, last_success=now - 60)
        (directory / "gpuagent-job-nightly.prom").write_text(text)
        directories[host] = directory
    with (
        node_exporter(directories["gpu-a"]) as a,
        node_exporter(directories["gpu-b"]) as b,
        prometheus(tmp_path_factory.mktemp("prometheus"), targets={a.address: "gpu-a", b.address: "gpu-b"}) as prom,
    ):
        prom.wait_for_scrape()
        prom.wait_for_query('gpuagent_info{instance="gpu-b"}')
        (directories["gpu-b"] / "gpuagent.prom").unlink()
        yield prom


def test_each_hosts_alert_names_that_host(two_hosts):
    prom = two_hosts
    alert = prom.wait_for_alert("GpuagentJobFailing", "firing", timeout=30, job_name="nightly")
    assert alert["labels"]["instance"] == "gpu-a"
    assert alert["annotations"]["summary"] == "gpuagent job nightly on gpu-a failed its last 3 runs"
    assert prom.alert("GpuagentJobFailing", instance="gpu-b") is None


def test_metrics_absent_from_one_host_names_it_while_the_other_is_fine(two_hosts):
    # pending: its `for` is 15m; gpu-a's gpuagent.prom is still there
    prom = two_hosts
    alert = prom.wait_for_alert("GpuagentMetricsAbsent", "pending", timeout=30, instance="gpu-b")
    assert alert["annotations"]["summary"] == "no gpuagent metrics from gpu-b"
    assert prom.alert("GpuagentMetricsAbsent", instance="gpu-a") is None


def test_the_dashboards_tables_have_a_line_per_host(two_hosts):
    prom = two_hosts
    dashboard = load_dashboard(DASHBOARD)
    every_host = {"instance": "(gpu-a|gpu-b)", "host": "(gpu-a|gpu-b)"}

    def by_host(panel_title: str, metric: str) -> dict[str, str]:
        (panel,) = [panel for panel in dashboard["panels"] if panel["title"] == panel_title and panel["type"] == "table"]
        expr = next(target["expr"] for target in panel["targets"] if metric in target["expr"])
        answer = prom.query(grafana_to_promql(expr, every_host))
        return {sample["metric"].get("host") or sample["metric"]["instance"]: sample["value"][1] for sample in answer}

    assert by_host("Hosts", "gpuagent_job_consecutive_failures") == {"gpu-a": "1", "gpu-b": "0"}
    # increase() over the range needs two scrapes of each host: a loaded machine may not have them yet
    wait_for(lambda: by_host("Hosts", 'status="succeeded"').keys() == {"gpu-a", "gpu-b"}, timeout=30, what="two scrapes of each host")
    assert by_host("Last success, per job and host", "gpuagent_job_last_success").keys() == {"gpu-a", "gpu-b"}
    # one host chosen: only its line
    answer = prom.query(
        grafana_to_promql(next(t["expr"] for t in dashboard["panels"][1]["targets"] if "consecutive" in t["expr"]), {"instance": "gpu-b"})
    )
    assert [sample["metric"]["host"] for sample in answer] == ["gpu-b"]
