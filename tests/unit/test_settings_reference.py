"""README.md's job file reference is the settings table, row for row."""

from pathlib import Path

from tests.support.settings_reference import BEGIN, CLUSTER_BEGIN, CLUSTER_END, END, cluster_reference, reference

README = Path(__file__).resolve().parents[2] / "docs" / "reference" / "job-file.md"


def _between(begin: str, end: str) -> str:
    text = README.read_text()
    assert begin in text and end in text, f"README.md lacks the markers {begin!r} ... {end!r}"
    return begin + text.split(begin, 1)[1].split(end, 1)[0] + end


def test_readme_reference_is_the_settings_table():
    assert _between(BEGIN, END) == reference(), "README.md's job settings differ from the table: paste `python -m tests.support.settings_reference`"


def test_readme_cluster_table_is_the_settings_mappings():
    documented = _between(CLUSTER_BEGIN, CLUSTER_END)
    assert documented == cluster_reference(), "README.md's cluster mappings differ from the table: paste `python -m tests.support.settings_reference`"


def test_the_reference_names_every_option_and_key():
    table = reference()
    for key in ("`resources.memory`", "`--memory`", "`container.volumes`", "`-v`, `--volume`", "`schedule.cron`"):
        assert key in table


def test_the_cluster_table_says_how_well_each_setting_maps():
    table = cluster_reference()
    assert "| `resources.memory` | **exact**: `--mem` (in MiB)" in table
    assert "| `schedule.after` | **not at all**:" in table
