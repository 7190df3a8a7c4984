"""Notification options on `add`, which has systemd-analyze read the schedule, and what a run's end imports."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from tests.support.agent import REPO
from tests.unit import test_notify

# fixtures the in-process half of these tests takes too
scratch = test_notify.scratch


def test_a_run_end_with_nothing_configured_imports_no_apprise(tmp_path):
    code = f"""
import sys, time
from gpuagent.core.paths import resolve_paths
from gpuagent.observe.announce import announce_end, announce_start
from tests.support.records import run_record
paths = resolve_paths(user_mode=False, env={{"GPUAGENT_CONFIG_DIR": {str(tmp_path / "config")!r}, "GPUAGENT_STATE_DIR": {str(tmp_path / "state")!r}}})
announce_start(paths, "nightly", print)
announce_end(paths, "nightly", run_record("r1", "nightly", "failed", 0.0), 1, print)
print(sorted(name for name in sys.modules if name.split(".")[0] in ("apprise", "requests", "urllib3")) or "nothing")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nothing"
    assert not (tmp_path / "state").exists(), "nothing sent, nothing recorded: no database made"


def add(*args: str):
    return CliRunner().invoke(app, ["--system", "add", "nightly", "--at", "02:00", "--image", "img", *args, "--", "true"])


URL = "json://127.0.0.1:9/hook-SECRET-TOKEN"


def test_a_dry_run_names_the_notify_file_never_its_urls(scratch):
    result = add("--notify", URL, "--ping", "https://hc-ping.com/PING-SECRET", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"would write {scratch / 'config' / 'notify' / 'nightly.toml'} (mode 0600" in result.stdout
    assert "SECRET" not in result.output
    assert not any((scratch / "config").iterdir())


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--notify", "nosuchservice://x/y"], "Apprise cannot send to this nosuchservice:// URL"),
        (["--notify", "json://h/p", "--notify", "tgram://only-one-part"], "--notify URL 2: Apprise cannot send to this tgram:// URL"),
        (["--notify", "a plain string"], "--notify: not a notification URL"),
        (["--notify-on", "failure"], "--notify-on: it says which events the --notify URLs get"),
        (["--notify", URL, "--notify-on", "failure,explode"], "--notify-on: unknown event 'explode'"),
        (["--ping", "ftp://hc-ping.com/x"], "--ping: a ping URL must be http:// or https://"),
    ],
)
def test_a_bad_notification_option_is_refused_before_anything_is_written(scratch, args, says):
    result = add(*args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert "only-one-part" not in result.stderr and "plain string" not in result.stderr
    for var in ("config", "unit", "state", "runtime"):
        assert list((scratch / var).iterdir()) == [], f"something was written under {var}"
