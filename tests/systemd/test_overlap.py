"""A timer fire while a manual run holds the job: recorded skipped-overlap, and the
skipped unit's ExecStopPost reap leaves the manual run's container alone."""

from tests.support.agent import wait_for
from tests.support.boxed import gpuagent, runs, seconds_ahead, unit_property


def test_a_timer_fire_during_a_manual_run_is_recorded_as_overlap(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "busy", "--on", seconds_ahead(5), "--image", busybox_image, "--", "sh", "-c", "sleep 10; echo manual run done")
    # a manual run, outside gpuagent@busy.service, holding the job's lock
    box.exec(["systemd-run", "--unit", "manual-busy", "--", "gpuagent", "run", "busy"])
    wait_for(lambda: runs(box, "busy"), what="the manual run's row")

    skipped = wait_for(lambda: [run for run in runs(box, "busy") if run.status == "skipped-overlap"], timeout=60, what="the timer run")[0]
    assert skipped.invocation_id == unit_property(box, "gpuagent@busy.service", "InvocationID")
    assert unit_property(box, "gpuagent@busy.service", "Result") == "success", "a skip is not a failure"

    manual = wait_for(
        lambda: [run for run in runs(box, "busy") if run.status not in ("running", "skipped-overlap")], timeout=60, what="the manual run's end"
    )[0]
    assert manual.status == "succeeded", "the timer run's reap must not touch the manual run's container"
    assert "manual run done" in box.journal("manual-busy.service")
