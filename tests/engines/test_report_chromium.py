"""gpuagent report's page in a real browser: Debian's headless Chromium opens the file
with nothing reachable off the machine, draws every chart, logs nothing (no script
error, no load refused) and takes a screenshot of it."""

import time

import pytest

from tests.support import chromium
from tests.support.agent import AgentHome
from tests.support.report_history import JOBS, write_history

RUNS = {"nightly": 30, "eval-hourly": 600, "preprocess": 100}


@pytest.fixture(scope="module", autouse=True)
def browser():
    if chromium.executable() is None:
        pytest.fail(f"chromium is not installed: {chromium.HINT}", pytrace=False)


@pytest.fixture
def page(tmp_path):
    home = AgentHome(tmp_path / "agent")
    for job in JOBS:
        home.write_job(job, "gpuagent-test/busybox:latest", ["python", f"{job}.py"])
    write_history(home.root / "state" / "history.db", RUNS, time.time())
    path = tmp_path / "report.html"
    result = home.run("report", "-o", str(path))
    assert result.returncode == 0, result.stderr
    return path


def test_the_page_draws_every_chart_and_logs_nothing(page, tmp_path):
    loaded = chromium.load(page, tmp_path / "profile")

    assert loaded.console == []
    for job in JOBS:
        assert f'<section id="job-{job}">' in loaded.dom
    metrics = sum(len(names) for _, _, names in JOBS.values())
    assert loaded.dom.count('<svg class="chart"') == 2 * len(JOBS) + metrics - 1  # preprocess has no VRAM to draw
    assert loaded.dom.count("<polyline") == 2 * len(JOBS) + metrics - 1
    assert '<svg class="shares"' in loaded.dom


def test_a_screenshot_of_it(page, tmp_path):
    png = tmp_path / "report.png"
    chromium.screenshot(page, png, tmp_path / "profile", width=1200, height=1600)

    assert chromium.png_size(png) == (1200, 1600)
    assert png.stat().st_size > 50_000  # text and charts, not a blank page


def test_the_console_check_sees_a_script_error_and_a_refused_load(tmp_path):
    broken = tmp_path / "broken.html"
    policy = "default-src 'none'; script-src 'unsafe-inline'"
    broken.write_text(
        f'<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<img src="https://example.com/logo.png"><script>undefinedFunction()</script>'
    )
    console = chromium.load(broken, tmp_path / "profile").console

    assert any("undefinedFunction is not defined" in line for line in console), console
    assert any("example.com" in line for line in console), console
