"""Chained job files through the commands that ask systemd-analyze about their schedules: show, --json and sync."""

import json

from tests.unit import test_chained_job_files
from tests.unit.test_chained_job_files import cli

# fixtures the in-process half of these tests takes too
home = test_chained_job_files.home


def test_sync_holds_a_hand_edited_circle_as_broken(home):
    (home.root / "config" / "jobs" / "train.toml").write_text(
        (home.root / "config" / "jobs" / "train.toml").read_text().replace("[schedule]\n", '[schedule]\nafter = "evaluate"\n')
    )
    result = cli(home, "sync", "--dry-run")
    assert "circle" in result.output


def test_show_and_json_name_the_chain_both_ways(home):
    shown = json.loads(cli(home, "show", "train", "--json").stdout)
    assert shown["followers"] == ["evaluate"]
    evaluate = json.loads(cli(home, "show", "evaluate", "--json").stdout)["job"]
    assert (evaluate["after"], evaluate["schedule"]["kind"]) == ("train", "at")  # its own schedule as well
    assert "daily at 02:00, and after train" in cli(home, "show", "evaluate").stdout
