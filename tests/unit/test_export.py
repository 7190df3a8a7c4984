"""gpuagent export: each setting's mapping to Slurm and Kubernetes, the cron line of each
kind of schedule, what is refused. The files of jobs whose schedules systemd-analyze reads
are tests/tools/test_export_files.py."""

import dataclasses
import sys

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.export.cronline import cron_line
from gpuagent.export.engines import ENGINES, NAME_AND_SCHEDULE, NOT_AT_ALL
from gpuagent.export.exporter import MAPPINGS, read_header
from gpuagent.export.slurm import pyxis_image
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.jobs.settings import SETTINGS

# ------------------------------------------------------------------------- the table


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_maps_every_setting_and_nothing_else(engine):
    table = MAPPINGS[engine]
    fields = [setting.field for setting in SETTINGS]
    missing = sorted(set(fields) - set(table))
    assert not missing, f"{engine} has no mapping for {missing}: add a line to its table"
    strangers = sorted(set(table) - set(fields) - set(NAME_AND_SCHEDULE))
    assert not strangers, f"{engine} maps {strangers}, which are not settings"
    assert list(table) == [*NAME_AND_SCHEDULE, *fields], f"{engine}'s table is not in the settings' order (the README's table follows it)"


@pytest.mark.parametrize("engine", ENGINES)
def test_every_row_says_how_it_maps_to_each_engine(engine):
    for field, mapping in MAPPINGS[engine].items():
        assert mapping.becomes, f"{field}: no words for {engine}"
        if field in NAME_AND_SCHEDULE:
            assert mapping.apply is None and mapping.fit != NOT_AT_ALL, f"{field}: the exporter maps it itself"
        elif mapping.fit == NOT_AT_ALL:
            assert mapping.apply is None and mapping.instead, f"{field}: a setting that cannot map says what to do instead"
        else:
            assert callable(mapping.apply), f"{field}: {engine} has no method for it"


def test_a_made_up_setting_without_a_mapping_fails_the_check(monkeypatch):
    made_up = dataclasses.replace(SETTINGS[0], field="made_up")
    monkeypatch.setattr(sys.modules[__name__], "SETTINGS", (*SETTINGS, made_up))
    with pytest.raises(AssertionError, match=r"has no mapping for \['made_up'\]"):
        test_each_engine_maps_every_setting_and_nothing_else("slurm")


# ------------------------------------------------------------------------- cron lines


@pytest.mark.parametrize(
    ("every", "line"), [("15m", "*/15 * * * *"), ("1m", "* * * * *"), ("6h", "0 */6 * * *"), ("1h", "0 * * * *"), ("1d", "0 0 * * *")]
)
def test_an_interval_becomes_the_clock_aligned_line_and_says_so(every, line):
    cron = cron_line(parse_schedule(every=every))
    assert str(cron) == line
    assert "counts from the last start" in cron.approximation


# ------------------------------------------------------------------------- Slurm


def test_pyxis_writes_a_registry_as_enroot_does():
    assert pyxis_image("nvcr.io/nvidia/pytorch:24.01-py3") == "nvcr.io#nvidia/pytorch:24.01-py3"
    assert pyxis_image("localhost:5000/team/train") == "localhost:5000#team/train"
    assert pyxis_image("pytorch/pytorch:2.9.0") == "pytorch/pytorch:2.9.0"


# --------------------------------------------------------------------- Kubernetes


# ------------------------------------------------------------------------ refusals


# ------------------------------------------------------------- determinism, --check


def test_a_file_export_did_not_write_is_not_read_as_one():
    with pytest.raises(InvalidInput, match="not a file `gpuagent export` wrote"):
        read_header("#!/bin/bash\necho hi\n")
