"""`add` where systemd-analyze reads the schedule: bad input it judges, an existing job, a dry run, no running systemd."""

import os

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from tests.unit import test_cli_rejects_bad_input
from tests.unit.test_cli_rejects_bad_input import CALENDAR_CASES, GOOD, add, check_rejected

# fixtures the in-process half of these tests takes too
scratch = test_cli_rejects_bad_input.scratch


@pytest.mark.parametrize("case", CALENDAR_CASES)
def test_bad_input_is_rejected_with_one_line_and_writes_nothing(case, scratch):
    check_rejected(case, scratch)


def test_existing_job_is_not_replaced_without_replace(scratch):
    job_file = scratch / "config" / "jobs" / "nightly.toml"
    job_file.parent.mkdir()
    job_file.write_text("untouched")

    result = CliRunner().invoke(app, ["--system", *add("nightly", *GOOD, "--", "true")])

    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--replace" in result.stderr
    assert job_file.read_text() == "untouched"


def test_dry_run_prints_the_files_and_writes_nothing(scratch):
    result = CliRunner().invoke(app, ["--system", *add("nightly", *GOOD, "--gpus", "1", "--dry-run", "--", "python", "train.py")])

    assert result.exit_code == 0, result.output
    assert "OnCalendar=*-*-* 02:00:00" in result.stdout
    assert 'image = "pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime"' in result.stdout
    assert "nothing written" in result.stdout
    for var in ("config", "unit", "state", "runtime"):
        assert list((scratch / var).iterdir()) == []


def test_add_without_running_systemd_writes_nothing(scratch):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("this host runs systemd; the e2e tests cover add there")
    result = CliRunner().invoke(app, ["--system", *add("nightly", *GOOD, "--", "true")])

    assert result.exit_code == 1
    assert "systemd is not running" in result.stderr
    assert list((scratch / "config").iterdir()) == []
