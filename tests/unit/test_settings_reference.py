"""The job file reference (docs/reference/job-file.md) is made from the settings table and
each export engine's mapping table; tests/unit/test_docs_reference.py holds the committed
page to what these make now."""

from tests.support.settings_reference import cluster_reference, reference


def test_the_reference_names_every_option_and_key():
    table = reference()
    for key in ("`resources.memory`", "`--memory`", "`container.volumes`", "`-v`, `--volume`", "`schedule.cron`"):
        assert key in table


def test_the_cluster_table_says_how_well_each_setting_maps():
    table = cluster_reference()
    assert "| `resources.memory` | **exact**: `--mem` (in MiB)" in table
    assert "| `schedule.after` | **not at all**:" in table
