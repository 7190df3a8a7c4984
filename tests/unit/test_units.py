"""Generated timers against golden files, and checked by systemd itself."""

import shutil
import subprocess
from pathlib import Path

import pytest

from gpuagent.model.job import job_from_options
from gpuagent.model.schedule import parse_schedule
from gpuagent.model.units import service_template_text, timer_unit

GOLDEN = Path(__file__).parent / "golden"
JOB_FILE = Path("/etc/gpuagent/jobs/nightly.toml")

CASES = {
    "daily.timer": (dict(at="02:00"), {}),
    "weekdays-cron.timer": (dict(cron="30 2 1 * mon-fri"), dict(persistent=False, random_delay="10m")),
    "every.timer": (dict(every="6h"), {}),
}


def render(name: str) -> str:
    schedule_args, options = CASES[name]
    job = job_from_options("nightly", parse_schedule(**schedule_args), dict(image="img", command=["true"], **options))
    return timer_unit(job, JOB_FILE).render()


@pytest.mark.parametrize("name", sorted(CASES))
def test_timer_matches_golden_file(name):
    assert render(name) == (GOLDEN / name).read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_systemd_accepts_the_timer(name, tmp_path):
    (tmp_path / "gpuagent@.service").write_text(
        service_template_text().replace("ExecStart=gpuagent", "ExecStart=/bin/true").replace("ExecStopPost=gpuagent", "ExecStopPost=/bin/true")
    )
    timer = tmp_path / "gpuagent@nightly.timer"
    timer.write_text(render(name))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(timer)], capture_output=True, text=True)
    # verify exits 0 on unknown keys and bad values, only warning: read what it says
    complaints = [line for line in result.stderr.splitlines() if "gpuagent@" in line]
    assert result.returncode == 0 and complaints == [], result.stderr


def test_shipped_template_runs_and_reaps_the_instance():
    text = service_template_text()
    assert "ExecStart=gpuagent run %i\n" in text
    assert "ExecStopPost=gpuagent reap %i\n" in text
    assert "RemainAfterExit" not in text
