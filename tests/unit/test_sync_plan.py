"""What `gpuagent sync` changes: the plan of timers (pure), the units gpuagent ships, each
written only where there is none. (A dry run over real job files, which systemd-analyze
checks, is tests/tools/test_sync_dry_run.py; applying it to a real systemd is
tests/systemd/test_sync.py.)"""

import io

import pytest

from gpuagent.commands.sync import SyncResult, plan_timers
from gpuagent.core.paths import resolve_paths
from gpuagent.host.files import write_atomic
from gpuagent.jobs.units import FAILURE_HANDLER, SERVICE_TEMPLATE, SHIPPED_UNITS, UnitState, missing_units, shipped_unit_states
from gpuagent.views import text
from gpuagent.views.screen import Screen


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


def state_of(paths, unit):
    [state] = [state for state in shipped_unit_states(paths) if state.unit == unit]
    return state


@pytest.mark.parametrize("unit", SHIPPED_UNITS, ids=lambda unit: unit.name)
def test_each_shipped_unit_is_written_only_where_systemd_has_none(paths, unit):
    assert state_of(paths, unit).path is None
    assert missing_units(paths) == {paths.unit_file(each.name): each.text() for each in SHIPPED_UNITS}

    packaged = paths.package_unit_dir / unit.name
    write_atomic(packaged, unit.text())
    assert state_of(paths, unit).path == packaged and state_of(paths, unit).current
    assert paths.unit_file(unit.name) not in missing_units(paths), "a unit in the package unit directory counts as installed"
    assert len(missing_units(paths)) == len(SHIPPED_UNITS) - 1, "the others are still missing: each is looked for on its own"

    write_atomic(paths.unit_file(unit.name), unit.text() + "# edited\n")
    state = state_of(paths, unit)
    assert (state.path, state.current) == (paths.unit_file(unit.name), False), "the unit directory's overrides the package's, as in systemd"
    assert paths.unit_file(unit.name) not in missing_units(paths), "an edited unit is kept"


@pytest.mark.parametrize("unit", SHIPPED_UNITS, ids=lambda unit: unit.name)
def test_a_masked_unit_is_kept(paths, unit):
    paths.unit_dir.mkdir(parents=True)
    paths.unit_file(unit.name).symlink_to("/dev/null")

    assert paths.unit_file(unit.name) not in missing_units(paths)
    assert not state_of(paths, unit).current


def test_the_report_says_each_change_then_the_counts_and_each_edited_unit_kept(paths):
    timer, gone = paths.timer_file("new"), paths.timer_file("gone")
    edited = paths.unit_file(FAILURE_HANDLER.name)
    units = [UnitState(SERVICE_TEMPLATE, paths.unit_file(SERVICE_TEMPLATE.name), True), UnitState(FAILURE_HANDLER, edited, False)]
    result = SyncResult(written=[timer], new=[timer], removed=[gone], unchanged=[], broken={}, units=units, dry_run=False)
    screen = Screen(file=io.StringIO(), terminal=False)

    text.sync_result(screen, result)

    assert screen.file.getvalue().splitlines() == [
        f"wrote {timer} (a new job: timer enabled)",
        f"removed {gone} (its job file is gone)",
        f"kept {edited}: it differs from the unit this gpuagent ships "
        "(local changes belong in a drop-in: systemctl edit gpuagent-on-failure@.service; see gpuagent doctor)",
        "synced: 1 written, 1 removed, 0 unchanged; systemd reloaded",
    ]
