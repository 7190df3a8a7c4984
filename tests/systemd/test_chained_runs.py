"""Chained jobs in a real systemd with the real dockerd: a run that succeeds starts the
job that follows it (--after) as its own unit, which is told the upstream run's id and
numbers and those of the upstream's previous success; a run that fails or is skipped
starts nothing; `trigger --wait` follows the chain."""

import json
import time

from tests.support.agent import wait_for
from tests.support.boxed import finished_runs, gpuagent, runs

# The trainer reports a loss from its environment; the follower prints what it was told.
TRAIN = 'echo "{\\"val_loss\\": $LOSS}" > "$GPUAGENT_METRICS_FILE"; echo trained; exit ${CODE:-0}'
EVALUATE = (
    'echo "upstream=$GPUAGENT_UPSTREAM_JOB/$GPUAGENT_UPSTREAM_RUN_ID loss=$GPUAGENT_UPSTREAM_METRIC_val_loss '
    'previous=$GPUAGENT_PREVIOUS_UPSTREAM_RUN_ID previous_loss=$GPUAGENT_PREVIOUS_UPSTREAM_METRIC_val_loss"; '
    'cat "$GPUAGENT_UPSTREAM_METRICS" "$GPUAGENT_PREVIOUS_UPSTREAM_METRICS"; '
    'echo "{\\"seen\\": ${GPUAGENT_UPSTREAM_METRIC_val_loss:-0}}" > "$GPUAGENT_METRICS_FILE"'
)


def add_pair(box, image: str, train: str, *, loss: str = "0.5", code: str = "0") -> None:
    gpuagent(
        box,
        "add",
        train,
        "--at",
        "03:00",
        "--disabled",
        "--replace",
        "-e",
        f"LOSS={loss}",
        "-e",
        f"CODE={code}",
        "--image",
        image,
        "--",
        "sh",
        "-c",
        TRAIN,
    )


def test_a_success_starts_the_follower_with_the_upstream_runs_numbers(systemd_box, busybox_image):
    box = systemd_box
    add_pair(box, busybox_image, "train", loss="0.5")
    added = gpuagent(box, "add", "evaluate", "--after", "train", "--image", busybox_image, "--", "sh", "-c", EVALUATE)
    assert "gpuagent@evaluate.timer" not in added.stdout  # it runs only after train: no timer

    followed = gpuagent(box, "trigger", "train", "--wait")
    [first_train] = finished_runs(box, "train")
    [first_eval] = finished_runs(box, "evaluate")
    assert "trained" in followed.stdout and f"upstream=train/{first_train.run_id} loss=0.5 previous= previous_loss=" in followed.stdout
    assert (first_eval.status, first_eval.upstream_run_id, first_eval.metrics) == ("succeeded", first_train.run_id, {"seen": 0.5})
    assert f"upstream=train/{first_train.run_id}" in gpuagent(box, "logs", "evaluate", "--run", first_eval.run_id).stdout  # its own unit's journal

    add_pair(box, busybox_image, "train", loss="0.25")
    gpuagent(box, "trigger", "train", "--wait")
    second_train = finished_runs(box, "train", count=2)[0]
    second_eval = finished_runs(box, "evaluate", count=2)[0]
    told = box.journal("gpuagent@evaluate.service")
    assert f"upstream=train/{second_train.run_id} loss=0.25 previous={first_train.run_id} previous_loss=0.5" in told
    assert '{"val_loss": 0.25}' in told and '{"val_loss": 0.5}' in told  # the two files
    assert second_eval.upstream_run_id == second_train.run_id

    detail = gpuagent(box, "history", "--run", second_train.run_id, "--json").stdout
    assert second_eval.run_id in detail  # linked both ways
    assert "after train" in gpuagent(box, "status").stdout


def test_a_failure_or_a_skip_starts_nothing_and_a_later_success_does(systemd_box, busybox_image):
    box = systemd_box
    add_pair(box, busybox_image, "flaky", code="3")
    gpuagent(box, "add", "check", "--after", "flaky", "--image", busybox_image, "--", "sh", "-c", "echo checked")
    gpuagent(box, "trigger", "flaky", "--wait", check=False)
    [failed] = finished_runs(box, "flaky")
    assert failed.status == "failed"

    # a run by hand holds the job; a trigger meanwhile is skipped
    add_pair(box, busybox_image, "flaky", code="0")
    gpuagent(
        box,
        "add",
        "flaky",
        "--replace",
        "--at",
        "03:00",
        "--disabled",
        "-e",
        "LOSS=1",
        "--image",
        busybox_image,
        "--",
        "sh",
        "-c",
        "sleep 6; " + TRAIN,
    )
    box.exec(["systemd-run", "--unit", "manual-flaky", "--", "gpuagent", "run", "flaky"])
    wait_for(lambda: [run for run in runs(box, "flaky") if run.status == "running"], what="the manual run")
    gpuagent(box, "trigger", "flaky", "--wait")
    skipped = wait_for(lambda: [run for run in runs(box, "flaky") if run.status == "skipped-overlap"], what="the skipped run")[0]
    time.sleep(2)  # time enough for a wrongly started follower to record a run
    assert runs(box, "check") == [], "neither the failure nor the skip may start the follower"

    manual = wait_for(lambda: [run for run in runs(box, "flaky") if run.status == "succeeded"], timeout=60, what="the manual run's success")[0]
    [check] = finished_runs(box, "check")
    assert check.upstream_run_id == manual.run_id != skipped.run_id


def test_a_malformed_or_huge_metrics_file_leaves_the_run_succeeded_with_the_problem_recorded(systemd_box, busybox_image):
    box = systemd_box
    for name, script in (
        ("malformed", 'echo "val_loss=0.3" > "$GPUAGENT_METRICS_FILE"'),
        ("huge", 'head -c 100000 /dev/zero | tr "\\0" 7 > "$GPUAGENT_METRICS_FILE"'),
    ):
        gpuagent(box, "add", name, "--at", "03:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", script)
        gpuagent(box, "trigger", name, "--wait")
        [run] = finished_runs(box, name)
        shown = json.loads(gpuagent(box, "history", "--run", run.run_id, "--json").stdout)["run"]
        assert (shown["status"], shown["metrics"]) == ("succeeded", {})
        assert ("not JSON" if name == "malformed" else "over 64 KiB") in shown["metrics_problem"]
