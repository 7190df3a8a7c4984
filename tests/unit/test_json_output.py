"""--json on every read command: each document against its schema (tests/support/json_schema.py),
and every field name documented in docs/reference/json-output.md. (Every record of each:
tests/tools/test_json_output_records.py.)"""

import dataclasses
import re
from pathlib import Path

import pytest

from gpuagent.jobs.job import Job
from gpuagent.jobs.settings import SETTINGS
from tests.support import json_schema
from tests.support.json_schema import DOCUMENTS, Maybe, check, field_names

JSON_PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "json-output.md"


def test_show_names_every_job_setting():
    job_fields = {field.name for field in dataclasses.fields(Job)} - {"name", "schedule"}
    assert {setting.field for setting in SETTINGS} == job_fields
    assert {"name", "schedule", *(setting.json_name for setting in SETTINGS)} == set(json_schema.JOB)


def test_readme_documents_every_field():
    section = JSON_PAGE.read_text()
    documented = set(re.findall(r"`([a-z_]+)`", section))
    missing = sorted(set().union(*(field_names(schema) for schema in DOCUMENTS.values())) - documented)
    assert missing == []


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        ({"a": 1, "b": 2}, {"a": int}),
        ({}, {"a": int}),
        ({"a": True}, {"a": int}),
        ({"a": "1"}, {"a": Maybe(int)}),
        ({"a": [1, "x"]}, {"a": [int]}),
        ({"a": "2026-03-01T02:00:00+01:00"}, {"a": json_schema.MOMENT}),
    ],
)
def test_the_schema_check_refuses_what_does_not_fit(value, schema):
    with pytest.raises(AssertionError):
        check(value, schema)
