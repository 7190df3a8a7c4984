"""End to end through a real systemd: a timer with --tz fires at that time in its zone, not
in the box's (UTC), and show and status give its next fires in that zone."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.boxed import booted, finished_run, gpuagent, unit_property
from tests.support.systemd_box import SystemdBox

# India is 05:30 ahead of UTC all year: a calendar read in the box's zone instead would be
# hours off, not seconds.
ZONE = "Asia/Kolkata"
ZONE_DATABASE = "/usr/share/zoneinfo"


@pytest.fixture(scope="module")
def systemd_box():
    """A box on UTC (it has no /etc/localtime) that can read other zones: its rootfs has no
    tzdata, so the host's zone database is bound in, as a real host has it."""
    with booted(SystemdBox([(ZONE_DATABASE, ZONE_DATABASE, True)])) as box:
        yield box


def test_a_timer_with_tz_fires_at_that_instant_in_its_zone(systemd_box, busybox_image):
    box = systemd_box
    assert box.exec(["date", "+%Z"]).stdout.strip() == "UTC", "the box's zone must differ from the job's"
    fire = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    in_zone = fire.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")

    gpuagent(box, "add", "kolkata", "--on", in_zone, "--tz", ZONE, "--image", busybox_image, "--", "true")
    timer = (box.root / "etc/systemd/system/gpuagent@kolkata.timer").read_text()
    assert f"OnCalendar={in_zone} {ZONE}\n" in timer
    run = finished_run(box, "kolkata")

    assert run.status == "succeeded", run
    started = datetime.fromtimestamp(run.started_at, tz=UTC)
    assert fire <= started < fire + timedelta(seconds=5), f"fired at {started}, expected {fire} ({in_zone} {ZONE})"
    assert unit_property(box, "gpuagent@kolkata.timer", "LastTriggerUSec").startswith(fire.strftime("%a %Y-%m-%d %H:%M:%S"))


def test_show_and_status_give_next_fires_in_the_jobs_zone(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "nightly", "--cron", f"CRON_TZ={ZONE} 0 2 * * *", "--image", busybox_image, "--", "true")
    # systemd's own next elapse, in the box's UTC: 02:00 in India is 20:30 UTC the day before
    assert " 20:30:00 UTC" in unit_property(box, "gpuagent@nightly.timer", "NextElapseUSecRealtime")

    shown = gpuagent(box, "show", "nightly").stdout
    status = gpuagent(box, "status").stdout

    assert f"cron 0 2 * * * in {ZONE}" in shown
    assert f"OnCalendar=*-*-* 02:00:00 {ZONE}" in shown
    [fires] = [line for line in shown.splitlines() if line.startswith("next fires")]
    assert fires.count(" 02:00:00") == 3 and fires.endswith(f"({ZONE})"), fires
    [row] = [line for line in status.splitlines() if line.startswith("nightly")]
    assert f" 02:00; {ZONE}" in row, row
