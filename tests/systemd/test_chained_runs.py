"""Chained jobs in a real systemd with the real dockerd: a run that succeeds starts the
job that follows it (--after) as its own unit, which is told the upstream run's id and
numbers and those of the upstream's previous success; a run that fails or is skipped
starts nothing; `trigger --wait` follows the chain; a success while the follower runs
starts it once more after its run (one pending start); a circle of --after jobs written
by hand starts nothing round it."""

import json
import time

from tests.support.agent import wait_for
from tests.support.boxed import finished_runs, gpuagent, runs

JOBS = "/etc/gpuagent/jobs"

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


def test_successes_while_the_follower_runs_start_it_once_more_after_its_run(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "fit", "--at", "03:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo fitted")
    gpuagent(box, "add", "score", "--after", "fit", "--image", busybox_image, "--", "sh", "-c", "sleep 15; echo scored")
    gpuagent(box, "trigger", "fit")
    wait_for(lambda: [run for run in runs(box, "score") if run.status == "running"], timeout=60, what="the first score run")
    for count in (2, 3):  # two more successes of fit while score's first run goes on
        gpuagent(box, "trigger", "fit")
        finished_runs(box, "fit", count=count)
    assert [run.status for run in runs(box, "score")] == ["running"], "the first score run must outlast both successes"

    second, first = finished_runs(box, "score", count=2, timeout=120)
    time.sleep(5)  # time enough for a wrongly pending third run to start and record itself
    assert len(runs(box, "score")) == 2, "one pending start, however many successes came meanwhile"
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert second.started_at >= first.ended_at, "the pending run starts once the first has ended"
    newest_fit, _, first_fit = finished_runs(box, "fit", count=3)
    assert (first.upstream_run_id, second.upstream_run_id) == (first_fit.run_id, newest_fit.run_id)  # the newest success
    told = box.journal("gpuagent@score.service")
    assert "a start of score was pending (its upstream succeeded while it ran): it starts once more" in told
    assert f"started by run {newest_fit.run_id} of fit, which succeeded; a start was pending: fit succeeded at " in told
    assert "score runs after fit, but is still running: a start is pending" in box.journal("gpuagent@fit.service")


def test_a_circle_written_by_hand_starts_nothing_round_it_and_the_views_name_it(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "ping", "--at", "03:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo ping")
    gpuagent(box, "add", "pong", "--after", "ping", "--image", busybox_image, "--", "sh", "-c", "echo pong")
    ping_file = box.root / JOBS.lstrip("/") / "ping.toml"
    ping_file.write_text(ping_file.read_text().replace("[schedule]\n", '[schedule]\nafter = "pong"\n'))  # sync refuses it

    gpuagent(box, "trigger", "ping")
    [ping] = finished_runs(box, "ping")
    time.sleep(5)  # time enough for a wrongly started pong to record a run, and its success to start ping
    assert ping.status == "succeeded"
    assert runs(box, "pong") == [] and len(runs(box, "ping")) == 1
    named = "ping -> pong -> ping: --after circle; its followers are never started; fix the job files"
    assert f"pong runs after ping, but is not started: {named}" in box.journal("gpuagent@ping.service")
    for view in (["show", "pong"], ["status"], ["doctor"]):
        assert named in gpuagent(box, *view, check=False).stdout, view


def test_a_pending_start_survives_the_followers_agent_killed_outright(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "prep", "--at", "03:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo prepared")
    gpuagent(box, "add", "digest", "--after", "prep", "--stop-grace", "1s", "--image", busybox_image, "--", "sh", "-c", "sleep 60")
    gpuagent(box, "trigger", "prep")
    wait_for(lambda: [run for run in runs(box, "digest") if run.status == "running"], timeout=60, what="the first digest run")
    gpuagent(box, "trigger", "prep")
    second_prep = finished_runs(box, "prep", count=2)[0]
    # its success asks for digest once its record is final: wait for that, then kill
    wait_for(
        lambda: "digest runs after prep, but is still running: a start is pending" in box.journal("gpuagent@prep.service"), what="the pending start"
    )
    box.exec(["systemctl", "kill", "--signal=SIGKILL", "--kill-whom=main", "gpuagent@digest.service"])

    def two_runs():
        found = runs(box, "digest")
        return found if len(found) == 2 and found[1].status == "lost" and found[0].status == "running" else None

    second, first = wait_for(two_runs, timeout=120, interval=0.5, what="the killed run lost and the pending one running")
    assert second.upstream_run_id == second_prep.run_id
    assert "a start of digest was pending (its upstream succeeded while it ran): it starts once more" in box.journal("gpuagent@digest.service")

    # stopped by hand with a start pending: the stop is not undone, the start is dropped
    gpuagent(box, "trigger", "prep")
    finished_runs(box, "prep", count=3)
    wait_for(
        lambda: box.journal("gpuagent@prep.service").count("digest runs after prep, but is still running: a start is pending") == 2,
        what="a second pending start",
    )
    box.exec(["systemctl", "stop", "gpuagent@digest.service"])  # fails if the pending start cancelled the stop
    time.sleep(5)  # time enough for a wrongly started third run to record itself
    assert [run.status for run in runs(box, "digest")] == ["stopped", "lost"]
    assert "a start of digest was pending (its upstream succeeded while it ran), but it is not started" in box.journal("gpuagent@digest.service")
