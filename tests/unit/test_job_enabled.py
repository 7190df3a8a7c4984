"""Whether a job runs is a job file setting (schedule.enabled): `disable` and `enable`
change that one line of a file kept by hand, and `sync` plans to switch each timer to what
its file says, whatever systemd held before (a reinstall, a timer switched by hand).
Applying it to a real systemd is tests/systemd/test_sync.py."""

import pytest

from gpuagent.commands.sync import plan_switches
from gpuagent.core.errors import InvalidInput
from gpuagent.jobs.jobfile import job_from_toml, with_enabled

KEPT_BY_HAND = """# nightly training, owned by the vision team
schema_version = 1
name = "nightly"
image = "img"
command = ["python", "train.py"]

[schedule]
at = "02:00"  # before the backups
persistent = true

[resources]
gpus = 1
"""


def test_disable_and_enable_change_one_line_and_keep_the_rest(tmp_path):
    source = tmp_path / "nightly.toml"
    disabled = with_enabled(KEPT_BY_HAND, False, source)
    assert disabled == KEPT_BY_HAND.replace("[schedule]\n", "[schedule]\nenabled = false\n")
    assert job_from_toml(disabled, source).enabled is False
    assert with_enabled(disabled, False, source) == disabled, "disabling twice writes one line"
    assert with_enabled(disabled, True, source) == KEPT_BY_HAND, "enabled is the default: the line goes"
    hand_written_true = KEPT_BY_HAND.replace("persistent = true\n", "persistent = true\nenabled   =  true # on\n")
    assert job_from_toml(with_enabled(hand_written_true, False, source), source).enabled is False


def test_a_file_without_a_schedule_header_of_its_own_is_written_out_whole(tmp_path):
    source = tmp_path / "nightly.toml"
    inline = 'schema_version = 1\nname = "nightly"\nimage = "img"\ncommand = ["true"]\nschedule = { at = "02:00" }\n'
    disabled = with_enabled(inline, False, source)
    assert job_from_toml(disabled, source).enabled is False
    assert job_from_toml(with_enabled(disabled, True, source), source).enabled is True


def test_a_file_that_does_not_load_is_not_rewritten(tmp_path):
    with pytest.raises(InvalidInput):
        with_enabled("schema_version = 1\n[schedule]\n", False, tmp_path / "nightly.toml")


def test_sync_switches_each_timer_to_what_its_file_says():
    enabled = {"on-new": True, "off-new": False, "on-was-off": True, "off-was-on": False, "on-was-on": True, "off-was-off": False, "unknown": False}
    timers_on = {"on-was-off": False, "off-was-on": True, "on-was-on": True, "off-was-off": False}
    switches = plan_switches(enabled, new=["on-new", "off-new"], timers_on=timers_on)
    assert switches.on == ["on-new", "on-was-off"]
    assert switches.off == ["off-new", "off-was-on"], "a new timer of a disabled job is switched off: a reinstall may leave it enabled"


def test_a_timer_systemd_could_not_be_asked_about_is_left_as_it_is():
    assert plan_switches({"a": True, "b": False}, new=[], timers_on={}) == plan_switches({}, new=[], timers_on={})
