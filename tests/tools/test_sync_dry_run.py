"""A dry-run sync, whose timers systemd-analyze checks."""

import shutil

import pytest

from gpuagent.commands.sync import sync_timers
from gpuagent.host.files import write_atomic
from gpuagent.jobs.catalog import load_job
from gpuagent.jobs.units import SHIPPED_UNITS, timer_text
from tests.unit import test_sync_plan

# fixtures the in-process half of these tests takes too
paths = test_sync_plan.paths


def job_text(name: str, at: str) -> str:
    return f'schema_version = 1\nname = "{name}"\nimage = "img"\ncommand = ["true"]\n\n[schedule]\nat = "{at}"\n'


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_a_dry_run_reports_every_change_and_writes_nothing(paths):
    for name, at in (("same", "02:00"), ("moved", "05:00")):
        write_atomic(paths.job_file(name), job_text(name, at))
        write_atomic(paths.timer_file(name), timer_text(paths, load_job(paths.job_file(name))))
    write_atomic(paths.job_file("moved"), job_text("moved", "03:00"))
    write_atomic(paths.job_file("new"), job_text("new", "04:00"))
    write_atomic(paths.job_file("broken"), "schema_version = 1\n")
    write_atomic(paths.timer_file("broken"), "[Timer]\nOnCalendar=daily\n")
    write_atomic(paths.timer_file("gone"), "[Timer]\nOnCalendar=daily\n")
    before = {path: path.read_text() for path in paths.unit_dir.iterdir()}

    result = sync_timers(paths, dry_run=True)

    assert result.written == [paths.timer_file("moved"), paths.timer_file("new"), *(paths.unit_file(unit.name) for unit in SHIPPED_UNITS)]
    assert result.new == [paths.timer_file("new")]
    assert result.removed == [paths.timer_file("gone")]
    assert result.unchanged == [paths.timer_file("same")]
    assert list(result.broken) == ["broken"] and result.broken["broken"].exit_code == 2
    assert {path: path.read_text() for path in paths.unit_dir.iterdir()} == before
