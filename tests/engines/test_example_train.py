"""The example training job, images/example/train.py, run with the CPU build of torch
(the one the test image carries): it learns, checkpoints, resumes exactly where it left
off, keeps only its newest checkpoints, ignores a checkpoint left half-written, and
reports its numbers to gpuagent's metrics file."""

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.example_scripts import METRICS_FILE, run_script, torch_site_or_skip


@pytest.fixture(scope="module")
def torch_site() -> Path:
    return torch_site_or_skip()


def train(torch_site: Path, work: Path, **settings) -> dict:
    """One run of train.py with its data in `work`; the metrics it printed, with what it
    reported to gpuagent under "reported"."""
    result = run_script("train.py", torch_site, work, **settings)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.splitlines()[-1])
    written = json.loads((work / "logs" / f"metrics-step-{printed['global_step']:09d}.json").read_text())
    assert written == printed
    return printed | {"reported": json.loads((work / METRICS_FILE).read_text())}


class Runs(NamedTuple):
    first: dict  # 40 steps from scratch
    second: dict  # 40 more, resumed, in the same directory
    whole: dict  # 80 steps from scratch, elsewhere
    checkpoints: Path  # of the first two


@pytest.fixture(scope="module")
def runs(torch_site, tmp_path_factory) -> Runs:
    """Two runs of 40 steps in one directory (a half-written checkpoint of a killed run
    lying there), and one run of 80 steps in another."""
    resumed, straight = tmp_path_factory.mktemp("resumed"), tmp_path_factory.mktemp("straight")
    (resumed / "checkpoints").mkdir()
    (resumed / "checkpoints/.step-000000999.pt.partial").write_bytes(b"torn")
    first = train(torch_site, resumed, steps=40, keep=1)
    second = train(torch_site, resumed, steps=40, keep=1)
    whole = train(torch_site, straight, steps=80)
    return Runs(first, second, whole, resumed / "checkpoints")


def test_a_run_trains_on_the_cpu_and_learns(runs):
    first, whole = runs.first, runs.whole

    assert (first["device"], first["start_step"], first["global_step"]) == ("cpu", 0, 40)
    assert first["resumed_from"] is None
    assert whole["eval_loss"] < whole["eval_loss_before"] / 4
    assert 0 < first["seconds_per_step"] < 1
    assert first["peak_gpu_memory_bytes"] is None


def test_the_next_run_resumes_from_the_newest_checkpoint(runs):
    first, second = runs.first, runs.second

    assert (second["start_step"], second["global_step"]) == (40, 80)
    assert second["resumed_from"] == "step-000000040.pt"
    assert second["eval_loss_before"] == first["eval_loss"]


def test_two_runs_train_exactly_the_model_of_one_run_as_long(runs):
    second, whole = runs.second, runs.whole

    assert (second["eval_loss"], second["val_loss"], second["weight_norm"]) == (whole["eval_loss"], whole["val_loss"], whole["weight_norm"])


def test_it_reports_its_losses_global_step_and_speed_to_gpuagent(runs):
    second = runs.second

    assert second["reported"] == {
        "train_loss": second["train_loss"],
        "val_loss": second["val_loss"],
        "steps": 80,
        "seconds_per_step": second["seconds_per_step"],
    }
    assert not list(runs.checkpoints.parent.glob(".*partial")), "written aside and renamed"


def test_the_held_out_split_is_not_the_training_data(runs):
    whole = runs.whole

    assert whole["val_loss"] != whole["eval_loss"]
    assert whole["val_loss"] < whole["eval_loss_before"] / 4, "what it learned holds on rows it never saw"


def test_only_the_newest_checkpoints_are_kept(runs):
    assert runs.second["checkpoint"] == "step-000000080.pt"
    assert sorted(p.name for p in runs.checkpoints.iterdir()) == [".step-000000999.pt.partial", "step-000000080.pt"]
