"""The alerting rules through promtool: its checks and the rules' unit tests."""

import re
import subprocess

import pytest

from tests.support.prometheus import RULES, RULES_TEST, binary
from tests.support.promql import (
    alerting_rules,
    load_rules,
)


@pytest.fixture(scope="module")
def promtool() -> str:
    return binary("promtool")


def test_promtool_checks_the_rules(promtool):
    result = subprocess.run([promtool, "check", "rules", RULES], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerting_rules(load_rules(RULES)))} rules found" in result.stdout


def test_the_rules_pass_their_promtool_unit_tests(promtool):
    result = subprocess.run([promtool, "test", "rules", RULES_TEST.name], capture_output=True, text=True, cwd=RULES_TEST.parent, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_fail_on_a_wrong_rule(promtool, tmp_path):
    # the unit tests can fail: with the failing-runs threshold at 2, "flaky" fires
    broken = RULES.read_text().replace("gpuagent_job_consecutive_failures >= 3", "gpuagent_job_consecutive_failures >= 2")
    assert broken != RULES.read_text()
    (tmp_path / RULES.name).write_text(broken)
    (tmp_path / RULES_TEST.name).write_text(RULES_TEST.read_text())
    result = subprocess.run([promtool, "test", "rules", RULES_TEST.name], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "GpuagentJobFailing" in result.stdout + result.stderr


def test_promtool_unit_tests_fail_when_metrics_absent_loses_the_host(promtool, tmp_path):
    # absent() fires once for every host together, with no instance: the unit test of one
    # host gone while the others are fine must catch it
    rules = RULES.read_text()
    per_host = "group by (instance, job) (max_over_time(gpuagent_info[1w]))\n          unless on (instance, job) gpuagent_info"
    assert per_host in rules
    (tmp_path / RULES.name).write_text(rules.replace(per_host, "absent(gpuagent_info)"))
    (tmp_path / RULES_TEST.name).write_text(RULES_TEST.read_text())
    result = subprocess.run([promtool, "test", "rules", RULES_TEST.name], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "GpuagentMetricsAbsent" in result.stdout + result.stderr


def test_the_scrape_config_for_several_hosts_in_the_docs_is_valid(promtool, tmp_path):
    """The config docs/monitoring.md gives, which the README shows as it is."""
    configs = [
        block
        for page in ("docs/monitoring.md", "README.md")
        for block in re.findall(r"```yaml\n(.*?)```", (RULES.parents[2] / page).read_text(), re.S)
        if "scrape_configs:" in block
    ]
    assert len(configs) == 2 and configs[0] == configs[1], "the README shows docs/monitoring.md's scrape config as it is"
    config = configs[0]
    assert "target_label: instance" in config and config.count("*host-name") == 1
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/rules/gpuagent-rules.yml", str(RULES)))
    result = subprocess.run([promtool, "check", "config", "prometheus.yml"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
