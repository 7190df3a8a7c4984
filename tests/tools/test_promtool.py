"""The alerting rules through promtool: its checks and the rules' unit tests."""

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
