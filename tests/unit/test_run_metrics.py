"""What a run reports (runs/runmetrics.py): the rules its metrics file is held to, and
what a run started by another run's success is told."""

import json

from gpuagent.runs.runmetrics import MAX_BYTES, MAX_METRICS, Upstream, parse_reported, run_environment, upstream_files


def test_numbers_are_kept_as_floats():
    reported = parse_reported(b'{"val_loss": 0.25, "steps": 500}')
    assert reported.metrics == {"val_loss": 0.25, "steps": 500.0}
    assert reported.problem is None


def test_a_file_that_is_not_a_json_object_is_ignored_and_said():
    for data, words in ((b"loss=0.3", "not JSON"), (b"[1, 2]", "JSON list"), (b"\xff\xfe", "not JSON")):
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
    assert "flag = true (values: finite numbers)" in reported.problem
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
