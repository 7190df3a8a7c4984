"""What a run reports (runs/runmetrics.py): the rules its metrics file is held to, and
what a run started by another run's success is told."""

import json
import math
import os

import pytest

from gpuagent.host.files import NotPlainFile, read_plain_file
from gpuagent.runs.runmetrics import (
    MAX_BYTES,
    MAX_METRICS,
    Upstream,
    format_change,
    format_value,
    parse_reported,
    run_environment,
    upstream_files,
)
from tests.support.special_files import make_special


def test_numbers_are_kept_as_floats():
    reported = parse_reported(b'{"val_loss": 0.25, "steps": 500}')
    assert reported.metrics == {"val_loss": 0.25, "steps": 500.0}
    assert reported.problem is None


def test_a_file_that_is_not_a_json_object_is_ignored_and_said():
    for data, words in ((b"loss=0.3", "not JSON"), (b"[1, 2]", "JSON array"), (b"\xff\xfe", "not JSON")):
        reported = parse_reported(data)
        assert reported.metrics is None
        assert words in reported.problem


def test_an_oversized_file_is_ignored():
    data = json.dumps({"a": 1, "pad": "x" * MAX_BYTES}).encode()
    reported = parse_reported(data)
    assert reported.metrics is None
    assert "over 64 KiB" in reported.problem


def test_bad_entries_are_dropped_and_named_the_good_ones_kept():
    reported = parse_reported(b'{"ok": 1, "bad name": 2, "flag": true, "text": "0.5", "inf": 1e999, "nested": {"a": 1}}')
    assert reported.metrics == {"ok": 1.0}
    assert reported.problem.startswith("metrics file: 5 entries ignored: 'bad name' (names:")
    assert "flag = true (values: numbers within ±1e+300)" in reported.problem
    assert reported.problem.endswith("and 2 more")


def test_at_most_max_metrics_are_kept():
    reported = parse_reported(json.dumps({f"m{i}": i for i in range(MAX_METRICS + 2)}).encode())
    assert len(reported.metrics) == MAX_METRICS
    assert "2 entries ignored" in reported.problem


def test_every_run_is_told_its_job_id_and_metrics_file():
    assert run_environment("nightly", "abc", None) == {
        "GPUAGENT_JOB": "nightly",
        "GPUAGENT_RUN_ID": "abc",
        "GPUAGENT_METRICS_FILE": "/gpuagent/out/metrics.json",
    }


def test_a_follower_is_told_both_upstream_runs_as_variables_and_files():
    upstream = Upstream("train", "r2", {"val_loss": 0.2}, "r1", {"val_loss": 0.3})
    env = run_environment("evaluate", "r3", upstream)
    assert env["GPUAGENT_UPSTREAM_JOB"] == "train"
    assert env["GPUAGENT_UPSTREAM_RUN_ID"] == "r2"
    assert env["GPUAGENT_PREVIOUS_UPSTREAM_RUN_ID"] == "r1"
    assert env["GPUAGENT_UPSTREAM_METRIC_val_loss"] == "0.2"
    assert env["GPUAGENT_PREVIOUS_UPSTREAM_METRIC_val_loss"] == "0.3"
    files = upstream_files(upstream)
    assert json.loads(files["upstream-metrics.json"]) == {"val_loss": 0.2}
    assert json.loads(files["previous-upstream-metrics.json"]) == {"val_loss": 0.3}


def test_a_first_follower_has_an_empty_previous():
    env = run_environment("evaluate", "r3", Upstream("train", "r2", {}, None, {}))
    assert env["GPUAGENT_PREVIOUS_UPSTREAM_RUN_ID"] == ""
    assert not [key for key in env if "METRIC_" in key]


# Whatever a container leaves at the metrics path, the reader answers a Reported: the
# run is recorded as what its command did, and the problem is said.
HOSTILE_BYTES = {
    "deep-array": b"[" * 30_000 + b"]" * 30_000,
    "deep-object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "deep-value": b'{"ok": 1, "a": ' + b"[" * 50 + b"]" * 50 + b"}",
    "deep-value-too-deep": b'{"ok": 1, "a": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    "400-digit-int": b'{"ok": 1, "big": 1' + b"0" * 400 + b"}",
    "negative-400-digit-int": b'{"ok": 1, "big": -1' + b"0" * 400 + b"}",
    "5000-digit-int": b'{"big": 1' + b"0" * 5000 + b"}",
    "float-overflow": b'{"ok": 1, "big": 1e999}',
    "nan-infinity": b'{"ok": 1, "n": NaN, "i": Infinity, "j": -Infinity}',
    "not-utf8": b'{"ok": \xff\xfe 1}',
    "utf16": '{"ok": 1}'.encode("utf-16"),
    "lone-surrogate-name": b'{"ok": 1, "\\ud800": 2}',
    "control-characters-name": b'{"ok": 1, "\\u001b[31m\\n": 2}',
    "wrong-types": b'{"ok": 1, "s": "1", "t": true, "n": null, "l": [1], "o": {"a": 1}}',
    "long-string-value": b'{"ok": 1, "s": "' + b"x" * 60_000 + b'"}',
    "empty": b"",
    "nul-bytes": b"\0" * 1000,
    "scalar": b"1e999",
    "huge": b'{"ok": 1, "pad": "' + b"x" * (MAX_BYTES + 1) + b'"}',
    "duplicate-names": b'{"ok": 1, "ok": 2}',
    "extreme-finite": b'{"ok": 1.7976931348623157e308, "low": -1.7976931348623157e308, "tiny": 5e-324, "edge": -1e300}',
}


@pytest.mark.parametrize("data", HOSTILE_BYTES.values(), ids=HOSTILE_BYTES.keys())
def test_no_file_breaks_the_reader_and_what_it_keeps_can_be_stored_and_shown(data):
    reported = parse_reported(data[: MAX_BYTES + 1])
    assert reported.metrics is None or all(type(v) is float and math.isfinite(v) for v in reported.metrics.values())
    assert reported.metrics is not None or reported.problem  # nothing kept: it says why
    if reported.problem:
        assert len(reported.problem) < 1000 and reported.problem.isprintable()  # one short line, for the journal
    for value in (reported.metrics or {}).values():  # kept as JSON in history, shown to people
        assert json.loads(json.dumps(value, allow_nan=False)) == value
        format_value(value)
        change = value - (-value)  # the change from a run that reported its opposite: finite, JSON can hold it
        assert json.loads(json.dumps(change, allow_nan=False)) == change
        format_change(change)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (HOSTILE_BYTES["deep-array"], "nests too deeply"),
        (HOSTILE_BYTES["deep-value"], "a = a JSON array"),
        (HOSTILE_BYTES["400-digit-int"], "big = Infinity or a number beyond that (values: numbers within ±1e+300)"),
        (HOSTILE_BYTES["extreme-finite"], "ok = Infinity or a number beyond that"),
        (HOSTILE_BYTES["nan-infinity"], "n = NaN"),
    ],
)
def test_the_problem_says_what_was_wrong(data, words):
    assert words in parse_reported(data).problem


def test_a_number_in_range_is_kept_whatever_its_spelling():
    assert parse_reported(b'{"a": 1' + b"0" * 300 + b', "b": -0, "c": 5e-324}').metrics == {"a": 1e300, "b": 0.0, "c": 5e-324}


def hostile_path(tmp_path, kind):
    path = tmp_path / "metrics.json"
    if kind == "symlink-out":
        path.symlink_to("/etc/hostname")
    elif kind == "unreadable-directory-entry":
        path.mkdir()
        (path / "x").write_text("{}")
        os.chmod(path, 0)
    else:
        make_special(path, kind)
    return path


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink-out", "dangling-symlink", "socket", "unreadable-directory-entry"])
def test_only_a_plain_file_is_read(tmp_path, kind):
    path = hostile_path(tmp_path, kind)
    with pytest.raises(NotPlainFile):
        read_plain_file(path, MAX_BYTES + 1)


def test_a_plain_file_is_read_up_to_the_limit_and_none_is_nothing(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 10_000_000)
    assert read_plain_file(tmp_path / "big", MAX_BYTES + 1) == b"x" * (MAX_BYTES + 1)
    assert read_plain_file(tmp_path / "none", 10) is None
