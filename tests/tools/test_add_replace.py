"""`add --replace` overwrites the job with what the command says, but keeps what the
command does not name of the two things a person replacing a job may not have at hand:
the job's notify file (its URLs hold tokens: --ping alone must not drop them) and whether
the job is enabled (`disable` paused it). `add` runs in --user mode with a stub systemctl
that says yes to everything, so the files are gpuagent's own."""

import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.support.agent import AgentHome

URL_A, URL_B = "json://127.0.0.1:9/hook-A-TOKEN", "json://127.0.0.1:9/hook-B-TOKEN"
PING_A, PING_B = "https://hc-ping.com/PING-A", "https://hc-ping.com/PING-B"


@pytest.fixture
def home(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "systemctl").write_text("#!/bin/sh\nexit 0\n")
    (stubs / "systemctl").chmod(0o755)
    return AgentHome(tmp_path / "agent", extra_env={"PATH": f"{stubs}:{os.environ['PATH']}"})


def gpuagent(home: AgentHome, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "gpuagent", "--user", *args], env=home.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == code, result.stdout + result.stderr
    return result


def add(home: AgentHome, *options: str, code: int = 0) -> subprocess.CompletedProcess:
    return gpuagent(home, "add", "nightly", "--at", "02:00", "--image", "img", *options, "--", "true", code=code)


def notify(home: AgentHome) -> dict:
    return tomllib.loads((home.root / "config" / "notify" / "nightly.toml").read_text())


def targets(home: AgentHome) -> list[tuple[str, list[str]]]:
    return [(entry["url"], entry["on"]) for entry in notify(home).get("notify", [])]


def test_replace_keeps_the_notify_file_parts_it_does_not_name(home):
    add(home, "--notify", URL_A, "--notify", URL_B, "--notify-on", "failure,recovered", "--ping", PING_A)

    add(home, "--replace", "--ping", PING_B)
    assert targets(home) == [(URL_A, ["failure", "recovered"]), (URL_B, ["failure", "recovered"])], "--ping alone keeps the URLs"
    assert notify(home)["ping"] == PING_B

    add(home, "--replace", "--notify-on", "success")
    assert targets(home) == [(URL_A, ["success"]), (URL_B, ["success"])], "--notify-on alone gives the kept URLs its events"
    assert notify(home)["ping"] == PING_B

    add(home, "--replace", "--notify", URL_B)
    assert targets(home) == [(URL_B, ["failure", "lost"])] and notify(home)["ping"] == PING_B, "--notify replaces the URLs, the ping stays"

    add(home, "--replace", "--memory", "1g")
    assert targets(home) == [(URL_B, ["failure", "lost"])] and notify(home)["ping"] == PING_B, "none of the three: the file is kept"
    assert "TOKEN" not in (home.root / "config" / "jobs" / "nightly.toml").read_text()


def test_replace_refuses_when_the_notify_file_to_keep_from_does_not_load(home):
    add(home, "--notify", URL_A)
    (home.root / "config" / "notify" / "nightly.toml").write_text("notify = 3\n")
    job_before = (home.root / "config" / "jobs" / "nightly.toml").read_text()
    refused = add(home, "--replace", "--memory", "2g", "--ping", PING_B, code=2)
    assert "--replace keeps what --notify/--notify-on/--ping leave out" in refused.stderr and "Traceback" not in refused.stderr
    assert (home.root / "config" / "notify" / "nightly.toml").read_text() == "notify = 3\n"
    assert (home.root / "config" / "jobs" / "nightly.toml").read_text() == job_before, "a rejected add writes nothing"


def test_replace_keeps_a_paused_job_paused_unless_told(home):
    add(home)
    assert "disabled" in gpuagent(home, "disable", "nightly").stdout
    job_file = home.root / "config" / "jobs" / "nightly.toml"
    add(home, "--replace", "--memory", "1g")
    assert tomllib.loads(job_file.read_text())["schedule"]["enabled"] is False
    add(home, "--replace", "--enabled")
    assert "enabled" not in tomllib.loads(job_file.read_text())["schedule"]
    add(home, "--replace", "--disabled")
    assert tomllib.loads(job_file.read_text())["schedule"]["enabled"] is False
