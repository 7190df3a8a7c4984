"""End to end through a real systemd: `gpuagent add` writes a timer, systemd fires it, the
template service runs `gpuagent run`, the container's output lands in the journal and
the run in history."""

from tests.support.agent import wait_for
from tests.support.boxed import (
    finished_run,
    gpuagent,
    runs,
    seconds_ahead,
    unit_property,
)


def test_timer_fires_runs_the_container_and_records_success(systemd_box, busybox_image):
    box = systemd_box
    added = gpuagent(box, "add", "hello", "--on", seconds_ahead(6), "--image", busybox_image, "--", "sh", "-c", "echo hello from the container")

    assert "gpuagent@hello.timer" in box.exec(["systemctl", "list-timers", "--all", "--no-pager"]).stdout, added.stdout
    assert box.exec(["systemctl", "is-enabled", "gpuagent@hello.timer"]).stdout.strip() == "enabled"
    run = finished_run(box, "hello")

    assert run.status == "succeeded", run
    assert run.invocation_id == unit_property(box, "gpuagent@hello.service", "InvocationID")
    assert unit_property(box, "gpuagent@hello.service", "Result") == "success"
    assert "hello from the container" in box.journal("gpuagent@hello.service")
    history = gpuagent(box, "history", "hello").stdout
    assert run.run_id in history and "succeeded" in history
    assert "hello from the container" in gpuagent(box, "logs", "hello", "--run", run.run_id).stdout


def test_a_failing_command_is_a_failed_unit_and_a_failed_run(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "broken", "--on", seconds_ahead(6), "--image", busybox_image, "--", "sh", "-c", "echo failing now; exit 3")
    run = finished_run(box, "broken")

    assert (run.status, run.exit_code) == ("failed", 3)
    wait_for(lambda: unit_property(box, "gpuagent@broken.service", "ActiveState") == "failed", what="the unit to fail")
    assert unit_property(box, "gpuagent@broken.service", "Result") == "exit-code"
    assert "failing now" in box.journal("gpuagent@broken.service")


def test_trigger_runs_now_through_systemd_and_logs_pick_one_run(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "manual", "--at", "03:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo run at $(date +%s%N)")
    assert box.exec(["systemctl", "is-enabled", "gpuagent@manual.timer"], check=False).stdout.strip() == "disabled"

    gpuagent(box, "trigger", "manual")
    first = finished_run(box, "manual")
    gpuagent(box, "trigger", "manual")
    second = finished_run(box, "manual", count=2)

    assert first.status == second.status == "succeeded"
    assert first.invocation_id and second.invocation_id and first.invocation_id != second.invocation_id
    one_run = gpuagent(box, "logs", "manual", "--run", first.run_id).stdout
    all_runs = gpuagent(box, "logs", "manual").stdout
    assert one_run.count("run at") == 1
    assert all_runs.count("run at") == 2


def test_list_show_disable_enable_and_remove_keep_history(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "weekly", "--cron", "0 3 * * sun", "--image", busybox_image, "--", "true")
    gpuagent(box, "trigger", "weekly")
    finished_run(box, "weekly")

    listing = gpuagent(box, "list").stdout
    assert "weekly" in listing and "cron 0 3 * * sun" in listing
    shown = gpuagent(box, "show", "weekly").stdout
    assert "OnCalendar=Sun *-*-* 03:00:00" in shown
    assert shown.count(" 03:00:00") >= 3, "show lists the next 3 fire times"

    gpuagent(box, "disable", "weekly")
    assert box.exec(["systemctl", "is-enabled", "gpuagent@weekly.timer"], check=False).stdout.strip() == "disabled"
    gpuagent(box, "enable", "weekly")
    assert box.exec(["systemctl", "is-active", "gpuagent@weekly.timer"]).stdout.strip() == "active"

    gpuagent(box, "remove", "weekly")
    assert not (box.root / "etc/gpuagent/jobs/weekly.toml").exists()
    assert not (box.root / "etc/systemd/system/gpuagent@weekly.timer").exists()
    assert box.exec(["systemctl", "is-active", "gpuagent@weekly.timer"], check=False).stdout.strip() == "inactive"
    assert len(runs(box, "weekly")) == 1, "history is kept"
    again = gpuagent(box, "show", "weekly", check=False)
    assert again.returncode == 2 and "no job named 'weekly'" in again.stderr
