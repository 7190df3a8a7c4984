"""The example evaluation job, images/example/evaluate.py, run with the CPU build of
torch after train.py in one directory: the first checkpoint it sees becomes the best, a
better one replaces it, a worse one does not (and is no failure), and it reports each
verdict to gpuagent's metrics file. With no checkpoint at all it fails."""

import json
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.example_scripts import METRICS_FILE, run_script, torch_site_or_skip


@pytest.fixture(scope="module")
def torch_site() -> Path:
    return torch_site_or_skip()


class Verdict(NamedTuple):
    printed: list[str]  # its output's lines
    reported: dict  # what it wrote to gpuagent's metrics file
    best: bytes  # best.pt afterwards
    record: dict  # best.json afterwards


def evaluate(torch_site: Path, work: Path, **settings) -> Verdict:
    result = run_script("evaluate.py", torch_site, work, **settings)
    assert result.returncode == 0, result.stderr
    reported = json.loads((work / METRICS_FILE).read_text())
    assert json.loads(result.stdout.splitlines()[-1])["eval_loss"] == reported["eval_loss"]
    checkpoints = work / "checkpoints"
    return Verdict(result.stdout.splitlines(), reported, (checkpoints / "best.pt").read_bytes(), json.loads((checkpoints / "best.json").read_text()))


def train(torch_site: Path, work: Path, steps: int) -> None:
    assert run_script("train.py", torch_site, work, steps=steps).returncode == 0


class Pipeline(NamedTuple):
    first: Verdict  # after 40 steps: no best yet
    better: Verdict  # after 200 more
    worse: Verdict  # the 40-step model again, as the newest checkpoint
    checkpoints: Path


@pytest.fixture(scope="module")
def pipeline(torch_site, tmp_path_factory) -> Pipeline:
    work = tmp_path_factory.mktemp("pipeline")
    checkpoints = work / "checkpoints"
    train(torch_site, work, steps=40)
    first = evaluate(torch_site, work)
    train(torch_site, work, steps=200)
    better = evaluate(torch_site, work)
    shutil.copyfile(checkpoints / "step-000000040.pt", checkpoints / "step-000000999.pt")
    worse = evaluate(torch_site, work)
    return Pipeline(first, better, worse, checkpoints)


def test_the_first_evaluation_promotes_the_checkpoint(pipeline):
    first, checkpoints = pipeline.first, pipeline.checkpoints

    assert first.reported == {"eval_loss": first.reported["eval_loss"], "best_loss": first.reported["eval_loss"], "promoted": 1, "step": 40}
    assert first.best == (checkpoints / "step-000000040.pt").read_bytes()
    assert (first.record["checkpoint"], first.record["step"], first.record["eval_loss"]) == ("step-000000040.pt", 40, first.reported["eval_loss"])
    assert "step-000000040.pt: held-out loss" in first.printed[0] and first.printed[0].endswith("no best yet: promoted")


def test_a_better_checkpoint_replaces_the_best(pipeline):
    first, better, checkpoints = pipeline.first, pipeline.better, pipeline.checkpoints

    assert better.reported["eval_loss"] < first.reported["eval_loss"]
    assert better.reported == {"eval_loss": better.reported["eval_loss"], "best_loss": better.reported["eval_loss"], "promoted": 1, "step": 240}
    assert better.best == (checkpoints / "step-000000240.pt").read_bytes()
    assert better.record["checkpoint"] == "step-000000240.pt"


def test_a_worse_checkpoint_leaves_the_best_and_is_no_failure(pipeline):
    first, better, worse = pipeline.first, pipeline.better, pipeline.worse

    assert worse.reported == {"eval_loss": first.reported["eval_loss"], "best_loss": better.reported["eval_loss"], "promoted": 0, "step": 999}
    assert (worse.best, worse.record) == (better.best, better.record)
    assert worse.printed[0].endswith("the best stays")


def test_nothing_is_left_half_written(pipeline):
    assert not list(pipeline.checkpoints.glob(".*")), "best.pt and best.json: written aside and renamed"


def test_started_by_a_training_run_it_prints_that_run_and_the_one_before(torch_site, tmp_path):
    train(torch_site, tmp_path, steps=10)
    (tmp_path / "upstream.json").write_text('{"train_loss": 0.5, "val_loss": 0.25, "steps": 10}')
    (tmp_path / "previous.json").write_text('{"val_loss": 0.75}')

    result = run_script(
        "evaluate.py",
        torch_site,
        tmp_path,
        gpuagent_upstream_run_id="run2",
        gpuagent_upstream_metrics=tmp_path / "upstream.json",
        gpuagent_previous_upstream_run_id="run1",
        gpuagent_previous_upstream_metrics=tmp_path / "previous.json",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "this training run (run2): train_loss 0.5, val_loss 0.25, steps 10",
        "the one before (run1): val_loss 0.75",
    ]


def test_with_no_checkpoint_it_fails_and_reports_nothing(torch_site, tmp_path):
    result = run_script("evaluate.py", torch_site, tmp_path)

    assert result.returncode == 1
    assert "no checkpoint in" in result.stderr
    assert not (tmp_path / METRICS_FILE).exists()
