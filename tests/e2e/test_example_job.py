"""The README's set-up command, `install.sh --example`, on a fresh host with a real
systemd: it installs gpuagent, builds the runtime and example images (here on a local
torch image, as no registry can be reached), adds the example as a nightly job, runs it
once and shows its history. The container trains on the CPU as the image's non-root
user and leaves its checkpoint and metrics in the host's directories; running the
command again keeps the job and runs it once more, resuming from that checkpoint."""

import json
import os
import re

import pytest

from tests.support.boxed import booted, finished_runs, gpuagent
from tests.support.images import TORCH_IMAGE, ensure_torch_image
from tests.support.installed import WHEELHOUSE_IN_BOX, bare_host_box, install_sh

pytestmark = pytest.mark.systemd

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


def test_running_it_again_keeps_the_job_and_resumes_from_the_checkpoint(box):
    job = (box.root / "etc/gpuagent/jobs/example.toml").read_bytes()

    result = install_example(box)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "job example exists: kept as it is" in result.stdout
    assert (box.root / "etc/gpuagent/jobs/example.toml").read_bytes() == job
    latest, first = finished_runs(box, "example", count=2)
    assert latest.status == first.status == "succeeded"
    second = metrics(box, 600)
    assert (second["start_step"], second["resumed_from"]) == (300, "step-000000300.pt")
    assert second["eval_loss_before"] == metrics(box, 300)["eval_loss"]
    assert sorted(p.name for p in (box.shared / "example/checkpoints").iterdir()) == ["step-000000300.pt", "step-000000600.pt"]
