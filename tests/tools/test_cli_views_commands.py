"""The view commands where systemd-analyze reads a schedule or gpuagent runs as its own process."""

import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from tests.unit import test_cli_views
from tests.unit.test_cli_views import NO_SYSTEMD, as_json, invoke

# fixtures the in-process half of these tests takes too
home = test_cli_views.home


def test_show(home):
    text = invoke(home, "show", "nightly")
    detail = as_json(home, "show", "nightly")

    assert "daily at 02:00" in text and 'image = "gpuagent-test/busybox:latest"' in text
    assert f"{home.root}/unit/gpuagent@nightly.timer is missing" in text
    words = [line.split(None, 1) for line in text.splitlines() if "=" not in line]
    settings = {key: value for key, value in (pair for pair in words if len(pair) == 2) if key in ("stop-grace", "vram-wait", "gpus")}
    assert settings == {"stop-grace": "10s", "vram-wait": "30m", "gpus": "1"}, "show spells out what the run applies, defaults too"
    assert detail["job"]["name"] == "nightly" and detail["timer_installed"] is False
    fires = [datetime.fromisoformat(fire) for fire in detail["next_fires"]]
    assert len(fires) == 3 and all((fire.astimezone().hour, fire.minute, fire.utcoffset()) == (2, 0, timedelta(0)) for fire in fires)
    assert invoke(home, "show", "nosuch", status=2) == ""


@pytest.mark.skipif(not NO_SYSTEMD, reason="this host runs systemd; the e2e tests trigger there")
def test_trigger_without_systemd_fails_before_starting_anything(home):
    result = CliRunner().invoke(app, ["--system", "trigger", "cpu", "--wait"], env=home.env)
    assert result.exit_code == 1 and "systemd is not running" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["status", "--json"], ["history", "--json"], ["status"], ["history"]])
def test_help_json_and_piped_views_do_not_import_rich(home, args):
    """Rich costs ~50 ms to import: only a terminal view that needs it (wrapping, code,
    a spinner) may load it."""
    probe = (
        "import sys\n"
        "from gpuagent.cli.app import app\n"
        f"try:\n    app(['--system', *{args!r}], prog_name='gpuagent')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('RICH', sorted(m for m in sys.modules if m.split('.')[0] == 'rich'), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], env=home.env, capture_output=True, text=True)
    assert "RICH []" in result.stderr, result.stderr


def test_views_do_not_look_at_the_host_but_run_does(home, tmp_path):
    # a volume on an NFS mount that is down: its path is not there now
    home.write_job("nfs", "gpuagent-test/busybox:latest", ["true"], volumes=[f"{tmp_path}/nfs-down:/data"])

    [nfs] = [job for job in as_json(home, "status")["jobs"] if job["name"] == "nfs"]
    assert nfs["problem"] is None and "nfs" in invoke(home, "list")
    assert as_json(home, "show", "nfs")["job"]["volumes"][0]["host"] == f"{tmp_path}/nfs-down"
    ran = home.run("run", "nfs")
    assert ran.returncode == 1 and "does not exist" in home.last_run("nfs").reason


def test_a_control_character_bound_for_a_unit_file_is_an_input_error(tmp_path, monkeypatch):
    config = tmp_path / "config\nExecStart=evil"
    monkeypatch.setenv("GPUAGENT_CONFIG_DIR", str(config))
    monkeypatch.setenv("GPUAGENT_UNIT_DIR", str(tmp_path / "unit"))
    args = ["--system", "add", "job", "--at", "02:00", "--image", "img", "--dry-run", "--", "true"]
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 2, result.output
    [error] = [line for line in result.stderr.splitlines() if not line.startswith("hint:")]
    assert "control character" in error
    assert not (tmp_path / "unit").exists()
