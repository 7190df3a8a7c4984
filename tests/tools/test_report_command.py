"""`gpuagent report` as a process and through the CLI, where systemd-analyze reads schedules."""

import os
import pty
import subprocess

from tests.support.agent import AgentHome
from tests.unit import test_report_page
from tests.unit.test_report_page import invoke

# fixtures the in-process half of these tests takes too
home = test_report_page.home
utc = test_report_page.utc


def test_o_writes_the_page_whole_and_says_so(home, tmp_path):
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    result = invoke(home, "nightly", "--since", "60h", "-o", str(target))

    assert result.stdout == f"wrote {target}: 1 job(s), 2 run(s) since 60h\n"
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert os.listdir(target.parent) == ["report.html"]  # no temporary file left


def test_piped_the_page_goes_to_stdout(home):
    assert invoke(home).stdout.startswith("<!DOCTYPE html>")


def test_a_terminal_gets_no_html_but_a_hint(home, tmp_path):
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(home.command("report"), env=home.env, stdout=terminal, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 2
    assert "HTML is not for a terminal" in result.stderr and "-o report.html" in result.stderr


def test_no_history_yet_still_writes_a_page(tmp_path):
    home = AgentHome(tmp_path / "agent")
    home.write_job("nightly", "gpuagent-test/busybox:latest", ["true"])
    assert "No runs since" in invoke(home).stdout
