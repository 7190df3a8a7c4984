"""`gpuagent history --group G [--metric NAME]`: a sweep's runs, written through the real
HistoryStore, ranked by a metric they reported (ties, runs that reported nothing, retried
combinations), as text and as --json, and the input it refuses."""

import json
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from tests.support.agent import AgentHome
from tests.support.json_schema import DOCUMENTS, check
from tests.support.records import T0, record, run_record

GiB = 1024**3
MINUTE = 60.0


def sweep_run(run_id: str, lr: str, batch: str, minute: int, status: str = "succeeded", **fields):
    return run_record(
        run_id,
        "queue/train",
        status,
        T0 + minute * MINUTE,
        group_id="g1",
        params={"lr": lr, "batch": batch},
        submitter="alice",
        peak_vram_bytes=3 * GiB,
        **fields,
    )


@pytest.fixture(autouse=True)
def utc(local_time_zone):
    local_time_zone("UTC")


@pytest.fixture
def home(tmp_path):
    """Group g1: six combinations. Two report the same val_loss, one reported none (it
    failed), one is still running, one succeeded on its retry; and one run of another
    group, one job run."""
    home = AgentHome(tmp_path / "agent")
    record(
        home.root / "state" / "history.db",
        sweep_run("a", "1e-3", "32", 0, metrics={"val_loss": 0.30, "acc": 0.70}),
        sweep_run("b", "1e-3", "64", 1, metrics={"val_loss": 0.20, "acc": 0.81}),
        sweep_run("c", "3e-4", "32", 2, status="failed"),
        sweep_run("d", "3e-4", "64", 3, metrics={"val_loss": 0.20, "acc": 0.80}),
        sweep_run("e", "1e-4", "32", 4, status="cuda-oom", metrics={"val_loss": 0.9}),
        sweep_run("e2", "1e-4", "32", 6, metrics={"val_loss": 0.10, "acc": 0.90}, attempt=2, first_run_id="e"),
        sweep_run("f", "1e-4", "64", 5, status="running", took=None),
        run_record("x", "queue/other", "succeeded", T0, group_id="g2", params={"lr": "1"}, metrics={"val_loss": 0.01}),
        run_record("n", "nightly", "succeeded", T0, metrics={"val_loss": 0.05}),
    )
    return home


def invoke(home: AgentHome, *args: str, status: int = 0):
    result = CliRunner().invoke(app, ["--system", "history", *args], env=home.env)
    assert result.exit_code == status, result.output
    return result


def as_json(home: AgentHome, *args: str) -> dict:
    document = json.loads(invoke(home, "--group", *args, "--json").stdout)
    check(document, DOCUMENTS["history --group"])
    return document


def ranking(document: dict) -> list[tuple]:
    return [(run["rank"], run["run_id"], run["value"]) for run in document["runs"]]


def test_a_metric_ranks_lowest_first_ties_share_a_rank_and_unreported_runs_come_last(home):
    document = as_json(home, "g1", "--metric", "val_loss")

    # e2 (the retry of e) stands for its combination; b and d tie; c and f reported nothing
    assert ranking(document) == [(1, "e2", 0.1), (2, "b", 0.2), (2, "d", 0.2), (4, "a", 0.3), (None, "c", None), (None, "f", None)]
    assert document["order"] == "lowest-first" and document["metric"] == "val_loss"
    assert document["runs_in_group"] == 6 and document["unreported"] == 2
    first = document["runs"][0]
    assert first["params"] == {"lr": "1e-4", "batch": "32"} and first["attempt"] == 2
    assert first["peak_vram_bytes"] == 3 * GiB and first["duration_seconds"] == 90.0 and first["job"] == "queue/train"
    assert first["metrics"] == {"val_loss": 0.1, "acc": 0.9}


def test_highest_first_ranks_the_other_way_and_ties_keep_their_start_order(home):
    document = as_json(home, "g1", "--metric", "acc", "--highest-first")

    assert ranking(document) == [(1, "e2", 0.9), (2, "b", 0.81), (3, "d", 0.8), (4, "a", 0.7), (None, "c", None), (None, "f", None)]
    assert document["order"] == "highest-first"
    tied = as_json(home, "g1", "--metric", "val_loss", "--highest-first")
    assert ranking(tied)[:4] == [(1, "a", 0.3), (2, "b", 0.2), (2, "d", 0.2), (4, "e2", 0.1)]


def test_without_a_metric_the_runs_are_listed_oldest_first_with_their_values(home):
    document = as_json(home, "g1")
    assert [run["run_id"] for run in document["runs"]] == ["a", "b", "c", "d", "e2", "f"]
    assert {run["rank"] for run in document["runs"]} == {None} and document["unreported"] == 0
    assert document["order"] == "started" and document["metric"] is None

    lines = invoke(home, "--group", "g1").stdout.splitlines()
    assert lines[0] == "group g1: 6 runs of queue/train, oldest first"
    assert lines[1].split() == ["lr", "batch", "status", "took", "peak", "vram", "run", "metrics"]
    assert lines[2].split() == ["1e-3", "32", "succeeded", "1m30s", "3GiB", "a", "val_loss=0.3;", "acc=0.7"]
    assert lines[3].split()[-3] == "b"
    assert lines[-1].split()[:3] == ["1e-4", "64", "running"]


def test_the_ranking_as_text_says_its_order_and_which_runs_reported_nothing(home):
    lines = invoke(home, "--group", "g1", "--metric", "val_loss").stdout.splitlines()

    assert lines[0] == "group g1: 6 runs of queue/train, ranked by val_loss, lowest first"
    assert lines[1].split() == ["rank", "val_loss", "lr", "batch", "status", "took", "peak", "vram", "run"]
    assert [line.split()[:2] for line in lines[2:8]] == [["1", "0.1"], ["2", "0.2"], ["2", "0.2"], ["4", "0.3"], ["-", "-"], ["-", "-"]]
    assert lines[2].split()[2:5] == ["1e-4", "32", "succeeded"]
    assert lines[8] == "2 runs did not report val_loss: unranked, after the ranked ones"


def test_status_since_and_limit_choose_what_is_ranked_and_shown(home):
    succeeded = as_json(home, "g1", "--metric", "val_loss", "--status", "succeeded")
    assert ranking(succeeded) == [(1, "e2", 0.1), (2, "b", 0.2), (2, "d", 0.2), (4, "a", 0.3)]
    assert succeeded["runs_in_group"] == 6 and succeeded["unreported"] == 0

    best_two = as_json(home, "g1", "--metric", "val_loss", "-n", "2")
    assert ranking(best_two) == [(1, "e2", 0.1), (2, "b", 0.2)] and best_two["unreported"] == 2
    assert invoke(home, "--group", "g1", "--metric", "val_loss", "-n", "2").stdout.startswith("group g1: 2 of 6 runs of queue/train")

    assert [run["run_id"] for run in as_json(home, "g1", "--since", "2026-03-01 02:03")["runs"]] == ["d", "e2", "f"]
    assert "none of the 6 runs of group g1 match" in invoke(home, "--group", "g1", "--status", "lost").stdout


def test_a_metric_no_run_reported_leaves_every_run_unranked(home):
    document = as_json(home, "g1", "--metric", "tokens_per_s")
    assert [run["rank"] for run in document["runs"]] == [None] * 6 and document["unreported"] == 6
    assert [run["run_id"] for run in document["runs"]] == ["a", "b", "c", "d", "e2", "f"]


def test_a_group_holds_only_its_own_runs(home):
    document = as_json(home, "g2", "--metric", "val_loss")
    assert ranking(document) == [(1, "x", 0.01)] and document["runs_in_group"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group", "nope"], "error: no runs of group 'nope' in history"),
        (["--group", "g1", "--metric", "val loss"], "error: --metric: 'val loss' is not a metric name"),
        (["--group", "g1", "--metric", "9lives"], "error: --metric: '9lives' is not a metric name"),
        (["--group", "g1", "--highest-first"], "error: --highest-first: give --metric too"),
        (["--highest-first"], "error: --highest-first ranks a sweep group's runs"),
        (["nightly", "--metric", "val_loss", "--highest-first"], "error: --highest-first ranks a sweep group's runs"),
        (["nightly", "--group", "g1"], "error: --group: a sweep group is named by its id alone"),
        (["--group", "g1", "--run", "a"], "error: --group: a sweep group is named by its id alone"),
        (["--group", "g1", "--status", "exploded"], "error: --status: unknown status 'exploded'"),
        (["--group", "g1", "-n", "0"], "error: --limit must be 1 to"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(home, args, message):
    result = invoke(home, *args, status=2)
    assert message in result.stderr
    assert result.stdout == ""
    if message.startswith("error:"):
        assert len([line for line in result.stderr.splitlines() if line.strip() and not line.startswith("hint:")]) == 1, result.stderr


def test_a_group_on_a_host_that_never_recorded_a_run_is_unknown_and_nothing_is_written(tmp_path):
    home = AgentHome(tmp_path / "fresh")
    result = invoke(home, "--group", "g1", "--metric", "val_loss", status=2)
    assert "no runs of group 'g1' in history" in result.stderr
    assert not (home.root / "state" / "history.db").exists()


def test_the_plain_history_still_shows_twenty_runs_by_default(home):
    more = [run_record(f"m{n}", "nightly", "succeeded", T0 + 3600 + n) for n in range(25)]
    record(home.root / "state" / "history.db", *more)
    assert len(json.loads(invoke(home, "--json").stdout)["runs"]) == 20


# --- report --group ------------------------------------------------------------------------


class Rows(HTMLParser):
    """The page's table rows, as a browser's parser reads them: each row's cell texts."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_data(self, data):
        self.text.append(data)
        if self.tags and self.rows and self.tags[-1] in ("td", "th", "span", "code"):
            self.rows[-1][-1] += data


def report(home: AgentHome, *args: str, status: int = 0):
    result = CliRunner().invoke(app, ["--system", "report", *args], env=home.env)
    assert result.exit_code == status, result.output
    return result


def test_the_report_of_a_group_ranks_its_runs_with_their_values(home):
    page = Rows(report(home, "--group", "g1", "--metric", "val_loss").stdout)

    assert page.rows[0] == ["rank", "val_loss", "lr", "batch", "status", "took", "peak VRAM", "run"]
    assert [row[0:2] + row[-1:] for row in page.rows[1:]] == [
        ["1", "0.1", "e2"],
        ["2", "0.2", "b"],
        ["2", "0.2", "d"],
        ["4", "0.3", "a"],
        ["-", "-", "c"],
        ["-", "-", "f"],
    ]
    assert page.rows[1][2:7] == ["1e-4", "32", "succeeded", "1m30s", "3GiB"]
    text = "".join(page.text)
    assert "group g1: 6 runs of queue/train, ranked by val_loss, lowest first" in text
    assert "2 runs did not report val_loss: unranked, after the ranked ones" in text
    assert "nightly" not in text  # a group's page holds its runs alone


def test_the_report_of_a_group_without_a_metric_lists_its_runs_oldest_first(home, tmp_path):
    target = tmp_path / "sweep.html"
    assert "wrote" in report(home, "--group", "g1", "-o", str(target)).stdout
    page = Rows(target.read_text())
    assert page.rows[0] == ["lr", "batch", "status", "took", "peak VRAM", "run", "metrics"]
    assert [row[5] for row in page.rows[1:]] == ["a", "b", "c", "d", "e2", "f"]
    assert page.rows[1][6] == "val_loss = 0.3, acc = 0.7"
    highest = Rows(report(home, "--group", "g1", "--metric", "acc", "--highest-first").stdout)
    assert [row[-1] for row in highest.rows[1:5]] == ["e2", "b", "d", "a"]


def test_sweep_values_are_escaped_in_the_report(home):
    hostile = "<script>alert(1)</script>"
    record(home.root / "state" / "history.db", run_record("h", "queue/x", "succeeded", T0, group_id="g3", params={"tag": hostile}))
    text = report(home, "--group", "g3").stdout
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert Rows(text).rows[1][0] == hostile


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group", "nope"], "error: no runs of group 'nope' in history"),
        (["--group", "g1", "--metric", "val-loss"], "error: --metric: 'val-loss' is not a metric name"),
        (["--group", "g1", "--highest-first"], "error: --highest-first: give --metric too"),
        (["--metric", "val_loss"], "error: --metric and --highest-first rank a sweep group's runs: give --group too"),
        (["nightly", "--group", "g1"], "error: --group: a sweep group is named by its id alone"),
    ],
)
def test_the_report_refuses_a_bad_group_in_one_line_and_writes_nothing(home, tmp_path, args, message):
    target = tmp_path / "page.html"
    result = report(home, *args, "-o", str(target), status=2)
    assert message in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip() and not line.startswith("hint:")]) == 1, result.stderr
    assert not target.exists()
