"""The queue under load and through what a server goes through, in a real systemd with the
real dockerd and two simulated 24 GiB GPUs: hundreds of runs, priorities, a starving big
run, dedupe keys, cancels, a cap per submitter, concurrent submitters, a dispatcher killed
half-way, a power cut, sweeps, and needs learned from history.

Everything is judged from what the queue and history record (`gpuagent queue --json`, the
runs' records), systemd's units and the processes in the box; never from how long a
thing took. One box serves the module; each test leaves the queue empty and the host's
rules and GPUs as they were."""

import itertools
import time
from collections import Counter

import pytest

from tests.support.agent import wait_for
from tests.support.queue_box import GPU_A, GPU_B, GPU_TOTAL, GiB, queue_box

LOAD_RUNS = 200


@pytest.fixture(scope="module")
def qbox(tmp_path_factory):
    with queue_box(tmp_path_factory.mktemp("gpu-sim")) as box:
        yield box


@pytest.fixture(autouse=True)
def idle_host(qbox):
    """Each test starts and ends with idle GPUs, no gpuagent.toml and an empty queue."""
    qbox.gpus()
    qbox.configure(None)
    yield
    qbox.cancel_all()
    qbox.configure(None)
    qbox.gpus()


def gpu_submit(qbox, name: str, image: str, *command: str, vram: str = "10GiB", env=None, extra=()) -> str:
    return qbox.submit(
        "--name", name, "--gpus", "1", "--min-free-vram", vram, "--stop-grace", "1s", *extra, "--image", image, "--", *command, env=env
    )


def overlapping(run, others) -> list:
    """The runs of `others` on one of `run`'s GPUs that were running when `run` started."""
    return [o for o in others if set(o.gpu_uuids) & set(run.gpu_uuids) and o.started_at <= run.started_at < (o.ended_at or float("inf"))]


def no_gpuagent_resident(qbox, samples: int = 5) -> None:
    """No gpuagent process in the box and no queued run's unit up, seen over a few samples
    (the timer's dispatcher may be caught mid-way: it must be gone again at once)."""
    for _ in range(samples):
        wait_for(lambda: not qbox.resident(), timeout=20, interval=0.2, what=f"no gpuagent process in the box (saw {qbox.resident()})")
        assert not qbox.active_queued_units()
        time.sleep(0.5)


# -- 1. load ------------------------------------------------------------------------------


def test_200_runs_on_2_gpus_keep_order_never_overcommit_and_wait_with_nothing_resident(qbox, busybox_image):
    qbox.full()
    priority_of = {index: 80 if index % 3 == 0 else 50 for index in range(LOAD_RUNS)}
    script = "".join(
        f"gpuagent submit --name load --priority {priority_of[index]} --gpus 1 --min-free-vram 10GiB "
        f"--image {busybox_image} -- sh -c 'sleep 0.2' | cut -d' ' -f1\n"
        for index in range(LOAD_RUNS)
    )
    submitting = time.monotonic()
    ids = qbox.shell(script, timeout=600).stdout.split()
    submit_seconds = time.monotonic() - submitting
    assert len(ids) == LOAD_RUNS == len(set(ids))
    index_of = {run_id: index for index, run_id in enumerate(ids)}

    # All wait, and nothing of gpuagent waits with them.
    listed = qbox.entries()
    assert sorted(entry["run_id"] for entry in listed) == sorted(ids)
    assert {entry["state"] for entry in listed} == {"waiting"}
    no_gpuagent_resident(qbox)
    assert not qbox.runs("load")

    running = time.monotonic()
    qbox.gpus()
    done = qbox.ended("load", LOAD_RUNS, timeout=900)
    run_seconds = time.monotonic() - running
    print(f"\n{LOAD_RUNS} runs: submitted in {submit_seconds:.0f} s, ran in {run_seconds:.0f} s")

    assert sorted(run.run_id for run in done) == sorted(ids)
    assert Counter(run.status for run in done) == {"succeeded": LOAD_RUNS}, [(r.status, r.reason) for r in done if r.status != "succeeded"]
    assert {run.gpu_uuids for run in done} == {(GPU_A,), (GPU_B,)}
    assert {(run.vram_need, run.vram_need_source) for run in done} == {(10 * GiB, "given")}

    # No GPU over-committed: at each start, the runs then on its GPU need at most its memory.
    sharing = 0
    for run in done:
        together = overlapping(run, done)
        assert sum(o.vram_need for o in together) <= GPU_TOTAL, (run.run_id, [(o.run_id, o.started_at, o.ended_at) for o in together])
        sharing += len(together) > 1
    assert sharing, "two runs of 10 GiB fit a 24 GiB GPU: some must have shared one"

    # The order: priority, then submission. Every run needs the same, so backfill never
    # lets a later run pass: a run ahead in the queue started before any run behind it
    # had ended (runs started by one dispatch may come up in any order among themselves).
    ordered = sorted(done, key=lambda run: (-priority_of[index_of[run.run_id]], index_of[run.run_id]))
    latest_start = float("-inf")
    for ahead, behind in itertools.pairwise(ordered):
        latest_start = max(latest_start, ahead.started_at)
        assert latest_start <= behind.ended_at, f"run {behind.run_id} ended before run {ahead.run_id}, ahead of it in the queue, started"

    no_gpuagent_resident(qbox)
    timer = qbox.unit_state("gpuagent-dispatch.timer", "UnitFileState", "ActiveState")
    assert timer == {"UnitFileState": "disabled", "ActiveState": "inactive"}
