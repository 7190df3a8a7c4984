"""The README's set-up command, `install.sh --example`, on a fresh host with a real
systemd: it installs gpuagent, builds the runtime and example images (here on a local
torch image, as no registry can be reached), adds the example pipeline (the nightly
training job, and example-evaluate --after it), runs it once and shows both histories.
The container trains on the CPU as the image's non-root user and leaves its checkpoint
and metrics in the host's directories; the training run's success starts the evaluation,
which is told that run's id and numbers, and makes the checkpoint the best. Running the
command again keeps the jobs and runs the pipeline once more: training resumes from the
checkpoint, and the second evaluation compares the new one with the first's best and
promotes it or not, as its metrics say."""

import json
import os
import re

import pytest

from tests.support.boxed import booted, finished_runs, gpuagent
from tests.support.images import TORCH_IMAGE, ensure_torch_image
from tests.support.installed import WHEELHOUSE_IN_BOX, bare_host_box, install_sh

TRAINER = (1000, 1000)  # images/runtime/Dockerfile's user


@pytest.fixture(scope="module")
def box():
    ensure_torch_image()  # before the box boots: the first build takes a minute
    with booted(bare_host_box(shared_dir=True)) as box:
        yield box


def install_example(box):
    """The README's command, offline, with the runtime image built on the local torch
    image, and the example's data where the host's dockerd sees the same path."""
    return install_sh(
        box, "--wheelhouse", WHEELHOUSE_IN_BOX, "--example", "--base-image", TORCH_IMAGE, "--example-dir", str(box.shared / "example"), timeout=600
    )


def metrics(box, step: int) -> dict:
    path = box.shared / "example/logs" / f"metrics-step-{step:09d}.json"
    return json.loads(path.read_text())


def history(box, job: str) -> list[dict]:
    """The job's runs as `history --json` gives them, newest first."""
    return json.loads(gpuagent(box, "history", job, "--json").stdout)["runs"]


def best(box) -> tuple[bytes, dict]:
    """best.pt and best.json, as the evaluations left them."""
    checkpoints = box.shared / "example/checkpoints"
    return (checkpoints / "best.pt").read_bytes(), json.loads((checkpoints / "best.json").read_text())


def checkpoint(box, step: int) -> bytes:
    return (box.shared / "example/checkpoints" / f"step-{step:09d}.pt").read_bytes()


def test_install_example_trains_the_example_once_now(box):
    result = install_example(box)

    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = finished_runs(box, "example")
    assert run.status == "succeeded", run
    assert re.search(rf"{run.run_id}.*succeeded", result.stdout), "the history is shown"
    job = (box.root / "etc/gpuagent/jobs/example.toml").read_text()
    assert 'at = "02:00"' in job and "gpus" not in job, "nightly, on the CPU: NVML sees no GPU here"
    checkpoint = box.shared / "example/checkpoints/step-000000300.pt"
    assert (os.stat(checkpoint).st_uid, os.stat(checkpoint).st_gid) == TRAINER, "run as the image's user"
    first = metrics(box, 300)
    assert (first["device"], first["start_step"], first["resumed_from"]) == ("cpu", 0, None)
    assert first["eval_loss"] < first["eval_loss_before"]
    assert "training 300 steps on cpu from step 0" in gpuagent(box, "logs", "example").stdout


def test_the_training_runs_success_starts_the_evaluation_which_makes_it_the_best(box):
    (train,) = history(box, "example")
    (evaluation,) = history(box, "example-evaluate")

    assert (evaluation["status"], evaluation["upstream_run_id"]) == ("succeeded", train["run_id"])
    assert set(train["metrics"]) == {"train_loss", "val_loss", "steps", "seconds_per_step"}
    assert train["metrics"]["steps"] == 300 and train["metrics"]["val_loss"] == metrics(box, 300)["val_loss"]
    loss = train["metrics"]["val_loss"]  # evaluate.py measures the checkpoint on the same held-out rows
    assert evaluation["metrics"] == {"eval_loss": loss, "best_loss": loss, "promoted": 1, "step": 300}
    best_checkpoint, record = best(box)
    assert (best_checkpoint, record["checkpoint"]) == (checkpoint(box, 300), "step-000000300.pt")
    assert f"this training run ({train['run_id']}): train_loss" in gpuagent(box, "logs", "example-evaluate").stdout
    job = (box.root / "etc/gpuagent/jobs/example-evaluate.toml").read_text()
    assert 'after = "example"' in job and "at = " not in job, "it runs only after the example"


def test_running_it_again_keeps_the_jobs_and_resumes_from_the_checkpoint(box):
    jobs = [box.root / "etc/gpuagent/jobs" / f"{name}.toml" for name in ("example", "example-evaluate")]
    before = [job.read_bytes() for job in jobs]

    result = install_example(box)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "job example exists: kept as it is" in result.stdout
    assert "job example-evaluate exists: kept as it is" in result.stdout
    assert [job.read_bytes() for job in jobs] == before
    latest, first = finished_runs(box, "example", count=2)
    assert latest.status == first.status == "succeeded"
    second = metrics(box, 600)
    assert (second["start_step"], second["resumed_from"]) == (300, "step-000000300.pt")
    assert second["eval_loss_before"] == metrics(box, 300)["eval_loss"]
    names = ["best.json", "best.pt", "step-000000300.pt", "step-000000600.pt"]
    assert sorted(p.name for p in (box.shared / "example/checkpoints").iterdir()) == names


def test_the_second_evaluation_compares_with_the_first_and_promotes_as_its_metrics_say(box):
    latest_train, first_train = history(box, "example")
    latest, first = history(box, "example-evaluate")

    assert latest["status"] == "succeeded" and latest["upstream_run_id"] == latest_train["run_id"]
    new_loss, old_best = latest_train["metrics"]["val_loss"], first["metrics"]["best_loss"]
    promoted = new_loss < old_best
    assert latest["metrics"] == {"eval_loss": new_loss, "best_loss": min(new_loss, old_best), "promoted": int(promoted), "step": 600}
    best_checkpoint, record = best(box)
    assert best_checkpoint == checkpoint(box, 600 if promoted else 300)
    assert record["checkpoint"] == ("step-000000600.pt" if promoted else "step-000000300.pt")
    log = gpuagent(box, "logs", "example-evaluate").stdout
    assert f"the one before ({first_train['run_id']}): train_loss" in log, "told the previous training run's numbers"
