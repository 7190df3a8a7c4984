"""What an operator sees, against a real systemd: the timer fields of status, list and
show (enabled, next fire, last fire), `trigger --wait` following a run, `logs -f`
streaming, and doctor on a host where nothing stops runs."""

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

from tests.support.boxed import finished_run, gpuagent, runs, seconds_ahead


def as_json(box, *args: str) -> dict:
    return json.loads(gpuagent(box, *args, "--json").stdout)


def systemd_time(box, unit: str, name: str) -> datetime | None:
    """A timestamp property as systemctl prints it in UTC, read here independently."""
    value = box.exec(["systemctl", "show", "-P", name, unit], env={"TZ": "UTC"}).stdout.strip()
    return datetime.strptime(value, "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC) if value else None


def moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def test_timer_fields_are_what_systemd_holds(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "daily", "--at", "03:00", "--image", busybox_image, "--", "true")
    added = time.time()
    gpuagent(box, "add", "interval", "--every", "2h", "--image", busybox_image, "--", "true")
    gpuagent(box, "add", "off", "--cron", "0 4 * * mon", "--disabled", "--image", busybox_image, "--", "true")

    status = {job["name"]: job for job in as_json(box, "status")["jobs"]}
    listed = {job["name"]: job for job in as_json(box, "list")["jobs"]}
    shown = as_json(box, "show", "daily")

    assert as_json(box, "status")["systemd_error"] is None
    for view in (status, listed):
        assert (view["daily"]["enabled"], view["interval"]["enabled"], view["off"]["enabled"]) == (True, True, False)
        assert moment(view["daily"]["next_fire"]) == systemd_time(box, "gpuagent@daily.timer", "NextElapseUSecRealtime")
        assert moment(view["off"]["next_fire"]) is None
        due = moment(view["interval"]["next_fire"]) - datetime.fromtimestamp(added + 2 * 3600, tz=UTC)
        assert abs(due) < timedelta(seconds=30), "an --every timer's next fire is its monotonic elapse, as wall time"
    assert shown["enabled"] is True and shown["next_fire"] == status["daily"]["next_fire"]
    assert moment(shown["next_fires"][0]) == moment(status["daily"]["next_fire"])
    text = {line.split()[0]: line for line in gpuagent(box, "status").stdout.splitlines()[1:] if line.strip() and not line.startswith(" ")}
    assert " yes " in text["daily"] and " no " in text["off"]

    gpuagent(box, "disable", "daily")
    after = {job["name"]: job for job in as_json(box, "status")["jobs"]}
    assert (after["daily"]["enabled"], after["daily"]["next_fire"]) == (False, None)


def test_a_fired_timer_shows_its_last_fire_and_run(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "fired", "--on", seconds_ahead(4), "--image", busybox_image, "--", "echo", "fired")
    run = finished_run(box, "fired")

    [job] = [job for job in as_json(box, "status")["jobs"] if job["name"] == "fired"]

    last_fire = moment(job["last_fire"])
    assert last_fire == systemd_time(box, "gpuagent@fired.timer", "LastTriggerUSec")
    assert last_fire.timestamp() <= run.started_at < last_fire.timestamp() + 10
    assert job["last_run"]["run_id"] == run.run_id and job["last_run"]["status"] == "succeeded"
    assert (job["missed_last_fire"], job["failing"], job["success_rate"]) == (False, False, 1.0)


def test_trigger_wait_follows_the_run_to_its_end(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(
        box,
        "add",
        "chatty",
        "--at",
        "05:00",
        "--disabled",
        "--image",
        busybox_image,
        "--",
        "sh",
        "-c",
        "echo step one; sleep 2; echo step two; exit 3",
    )

    result = gpuagent(box, "trigger", "chatty", "--wait", check=False)

    [run] = runs(box, "chatty")
    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stderr
    assert lines.index("step one") < lines.index("step two") < len(lines) - 1
    assert lines[-1] == f"run {run.run_id} of chatty: failed (exit 3), took {round(run.duration)}s"
    assert lines[0] == "starting..." or lines[0].startswith(f"run {run.run_id}: starting its container")

    gpuagent(box, "add", "quiet", "--at", "05:00", "--disabled", "--image", busybox_image, "--", "echo", "done")
    result = gpuagent(box, "trigger", "quiet", "--wait", check=False)
    assert result.returncode == 0 and "done" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].startswith(f"run {runs(box, 'quiet')[0].run_id} of quiet: succeeded")

    # on a terminal (script(1) gives it one): the spinner, then the same lines
    result = box.exec(["script", "-qec", "gpuagent trigger quiet --wait", "/dev/null"], check=False, env={"NO_COLOR": "1"})
    newest = runs(box, "quiet")[0]
    assert result.returncode == 0, result.stdout
    assert "done" in result.stdout and f"run {newest.run_id} of quiet: succeeded" in result.stdout
    assert newest.invocation_id != runs(box, "quiet")[1].invocation_id


def test_ctrl_c_detaches_and_the_run_goes_on(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "long", "--at", "05:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo started; sleep 20; echo finished")

    result = box.exec(["timeout", "--preserve-status", "-s", "INT", "6", "gpuagent", "trigger", "long", "--wait"], check=False)

    assert result.returncode == 130, result.stderr
    assert "started" in result.stdout.splitlines()
    assert "detached: the run goes on" in result.stderr
    assert box.exec(["systemctl", "is-active", "gpuagent@long.service"], check=False).stdout.strip() == "active"
    run = finished_run(box, "long", timeout=60)
    assert run.status == "succeeded" and "finished" in box.journal("gpuagent@long.service")


def test_logs_follow_streams_lines_as_they_come(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(
        box, "add", "ticker", "--at", "05:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo tick-one; sleep 15; echo tick-two"
    )
    follower = subprocess.Popen(
        ["nsenter", f"--target={box.leader}", "--all", "--", "gpuagent", "logs", "ticker", "-f"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"},
        # as a terminal's Ctrl-C finds it: a suite started in the background (`&` in a
        # shell without job control) inherits SIGINT ignored, and Python then keeps it so
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        gpuagent(box, "trigger", "ticker")
        deadline = time.monotonic() + 30
        for line in follower.stdout:
            if "tick-one" in line or time.monotonic() > deadline:
                break
        assert "tick-one" in line, "the first line came through while the run was still going"
        assert follower.poll() is None and "tick-two" not in box.journal("gpuagent@ticker.service")
    finally:
        os.killpg(follower.pid, signal.SIGINT)
        try:
            # Ctrl-C stops it (a loaded 2-core host may take seconds to schedule it)
            follower.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(follower.pid, signal.SIGKILL)
            follower.wait()
            raise AssertionError("`gpuagent logs -f` did not stop within 30 s of Ctrl-C") from None
    box.exec(["systemctl", "stop", "gpuagent@ticker.service"])


def test_doctor_finds_nothing_that_stops_runs(systemd_box):
    """Every job above needs no GPU, so a box without NVIDIA parts only warns."""
    box = systemd_box

    result = gpuagent(box, "doctor", "--json", check=False)

    report = json.loads(result.stdout)
    errors = [finding for finding in report["findings"] if finding["level"] == "error"]
    assert (result.returncode, report["ready"], errors) == (0, True, [])
    levels = {finding["check"]: finding["level"] for finding in report["findings"]}
    assert (levels["systemd"], levels["template-unit"], levels["docker"]) == ("ok", "ok", "ok")
    assert (levels["docker-gpu"], levels["nvidia-driver"]) == ("warning", "warning")
