"""What `gpuagent sync` changes: the plan of timers (pure), the template it writes only
where there is none, and a dry run over real job files that writes nothing. (Applying it
to a real systemd is tests/e2e/test_sync.py.)"""

import io
import shutil

import pytest

from gpuagent.commands.common import TemplateState, missing_template, template_state, timer_text
from gpuagent.commands.sync import SyncResult, plan_timers, sync_timers
from gpuagent.host.files import write_atomic
from gpuagent.host.jobfiles import load_job
from gpuagent.model.units import service_template_text
from gpuagent.paths import resolve_paths
from gpuagent.views import text
from gpuagent.views.terminal import Screen


@pytest.fixture
def paths(tmp_path):
    env = {
        "GPUAGENT_CONFIG_DIR": str(tmp_path / "config"),
        "GPUAGENT_UNIT_DIR": str(tmp_path / "etc-units"),
        "GPUAGENT_STATE_DIR": str(tmp_path / "state"),
        "GPUAGENT_RUNTIME_DIR": str(tmp_path / "run"),
        "GPUAGENT_PACKAGE_UNIT_DIR": str(tmp_path / "lib-units"),
    }
    return resolve_paths(user_mode=False, env=env)


def test_the_plan_writes_new_and_changed_timers_and_removes_orphans():
    plan = plan_timers(
        wanted={"new": "N", "changed": "C2", "same": "S"},
        existing={"changed": "C1", "same": "S", "gone": "G"},
        keep=(),
    )

    assert plan.write == {"changed": "C2", "new": "N"}
    assert plan.new == ["new"], "only a job that had no timer is switched on: the others keep their state"
    assert plan.remove == ["gone"]
    assert plan.unchanged == ["same"]


def test_the_plan_keeps_the_timer_of_a_job_file_that_does_not_load():
    plan = plan_timers(wanted={}, existing={"broken": "B", "gone": "G"}, keep={"broken"})

    assert (plan.write, plan.remove, plan.unchanged) == ({}, ["gone"], [])


def test_a_second_plan_over_the_first_ones_result_changes_nothing():
    wanted = {"a": "A", "b": "B"}
    first = plan_timers(wanted, existing={"b": "old", "c": "C"}, keep=())
    after = {name: text for name, text in {"b": "old", "c": "C", **first.write}.items() if name not in first.remove}

    second = plan_timers(wanted, after, keep=())

    assert (second.write, second.remove, second.unchanged) == ({}, [], ["a", "b"])


def test_the_template_is_written_only_where_systemd_has_none(paths):
    assert template_state(paths).path is None
    assert missing_template(paths) == {paths.service_template: service_template_text()}

    packaged = paths.package_unit_dir / "gpuagent@.service"
    write_atomic(packaged, service_template_text())
    assert template_state(paths).path == packaged and template_state(paths).current
    assert missing_template(paths) == {}, "a template in the package unit directory counts as installed"

    write_atomic(paths.service_template, service_template_text() + "# edited\n")
    state = template_state(paths)
    assert (state.path, state.current) == (paths.service_template, False), "the unit directory's overrides the package's, as in systemd"
    assert missing_template(paths) == {}, "an edited template is kept"


def test_a_masked_template_is_kept(paths):
    paths.unit_dir.mkdir(parents=True)
    paths.service_template.symlink_to("/dev/null")

    assert missing_template(paths) == {}
    assert not template_state(paths).current


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

    assert result.written == [paths.timer_file("moved"), paths.timer_file("new"), paths.service_template]
    assert result.new == [paths.timer_file("new")]
    assert result.removed == [paths.timer_file("gone")]
    assert result.unchanged == [paths.timer_file("same")]
    assert list(result.broken) == ["broken"] and result.broken["broken"].exit_code == 2
    assert {path: path.read_text() for path in paths.unit_dir.iterdir()} == before


def test_the_report_says_each_change_then_the_counts(paths):
    timer, gone = paths.timer_file("new"), paths.timer_file("gone")
    result = SyncResult(written=[timer], new=[timer], removed=[gone], unchanged=[], broken={}, template=TemplateState(None, False), dry_run=False)
    screen = Screen(file=io.StringIO(), terminal=False)

    text.sync_result(screen, result)

    assert screen.file.getvalue().splitlines() == [
        f"wrote {timer} (a new job: timer enabled)",
        f"removed {gone} (its job file is gone)",
        "synced: 1 written, 1 removed, 0 unchanged; systemd reloaded",
    ]
