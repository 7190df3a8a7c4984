"""`gpuagent sync` against a real systemd: the job files are the truth, systemd's timers
follow them (an edited schedule, a new job, a job that is gone), each timer is switched on
or off as its job file says (schedule.enabled, which `disable` writes: a reinstall keeps a
paused job paused, and a timer switched by hand is drift that doctor reports), a second
sync changes nothing; a job file that does not load keeps its timer and can still be
disabled and removed; an edited template and a drop-in are kept, and the drop-in is what
systemd applies; a disabled job that runs only --after another is not started by its
upstream. The tests of this module run in order, on one box."""

import json
import time

from gpuagent.jobs.units import SERVICE_TEMPLATE, SHIPPED_UNITS
from tests.support.agent import wait_for
from tests.support.boxed import finished_runs, gpuagent, runs, unit_property
from tests.support.installed import unit_state

UNITS = "/etc/systemd/system"
JOBS = "/etc/gpuagent/jobs"


def job_file(box, name: str):
    return box.root / JOBS.lstrip("/") / f"{name}.toml"


def unit_file(box, name: str):
    return box.root / UNITS.lstrip("/") / name


def edit_schedule(box, name: str, old: str, new: str) -> None:
    path = job_file(box, name)
    text = path.read_text()
    assert f'at = "{old}"' in text
    path.write_text(text.replace(f'at = "{old}"', f'at = "{new}"'))


def job_findings(box) -> dict[str, dict]:
    report = json.loads(gpuagent(box, "doctor", "--json", check=False).stdout)
    return {finding["message"]: finding for finding in report["findings"] if finding["check"] == "job"}


def sync(box, *args: str, code: int = 0):
    result = gpuagent(box, "sync", *args, check=False)
    assert result.returncode == code, result.stdout + result.stderr
    return result


def test_an_edited_schedule_reaches_systemd_and_a_disabled_job_stays_disabled(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "moved", "--at", "03:00", "--image", busybox_image, "--", "true")
    gpuagent(box, "add", "off", "--at", "04:00", "--disabled", "--image", busybox_image, "--", "true")
    assert "nothing to change: 2 timer(s) match their job files" in sync(box).stdout, "add writes what sync would"
    edit_schedule(box, "moved", "03:00", "05:30")
    edit_schedule(box, "off", "04:00", "06:45")
    drift = [finding for message, finding in job_findings(box).items() if "differs from its job file" in message]
    assert sorted(finding["message"].split(":")[0] for finding in drift) == ["job moved", "job off"]
    assert {finding["fix"] for finding in drift} == {"gpuagent sync"}

    dry = sync(box, "--dry-run")
    assert f"would write {UNITS}/gpuagent@moved.timer" in dry.stdout and "nothing changed" in dry.stdout
    assert "03:00:00" in unit_property(box, "gpuagent@moved.timer", "TimersCalendar")
    result = sync(box)

    assert f"wrote {UNITS}/gpuagent@moved.timer\n" in result.stdout
    assert f"wrote {UNITS}/gpuagent@off.timer\n" in result.stdout
    assert "synced: 2 written, 0 removed, 0 unchanged; systemd reloaded" in result.stdout
    assert "05:30:00" in unit_property(box, "gpuagent@moved.timer", "TimersCalendar")
    assert " 05:30:00 " in unit_property(box, "gpuagent@moved.timer", "NextElapseUSecRealtime"), "local time, as the calendar is"
    assert "06:45:00" in unit_property(box, "gpuagent@off.timer", "TimersCalendar")
    assert unit_state(box, "gpuagent@moved.timer") == ("loaded", "enabled", "active")
    assert unit_state(box, "gpuagent@off.timer")[1:] == ("disabled", "inactive")
    assert not [message for message in job_findings(box) if "differs from its job file" in message]
    again = sync(box)
    assert again.stdout.strip() == "nothing to change: 2 timer(s) match their job files"


def test_a_new_job_file_gets_an_enabled_timer_and_a_deleted_one_loses_its_timer(systemd_box):
    box = systemd_box
    job_file(box, "fresh").write_text(job_file(box, "moved").read_text().replace('name = "moved"', 'name = "fresh"'))
    job_file(box, "moved").unlink()
    assert any("gpuagent@moved.timer has no job file" in message for message in job_findings(box))

    result = sync(box)

    assert f"wrote {UNITS}/gpuagent@fresh.timer (a new job: timer enabled)" in result.stdout
    assert f"removed {UNITS}/gpuagent@moved.timer (its job file is gone)" in result.stdout
    assert "synced: 1 written, 1 removed, 1 unchanged" in result.stdout
    assert unit_state(box, "gpuagent@fresh.timer") == ("loaded", "enabled", "active")
    assert not unit_file(box, "gpuagent@moved.timer").exists()
    assert not unit_file(box, "timers.target.wants/gpuagent@moved.timer").exists()
    assert unit_state(box, "gpuagent@moved.timer") == ("not-found", "", "inactive")
    assert "nothing to change" in sync(box).stdout


def test_a_job_file_that_does_not_load_keeps_its_timer_and_can_be_disabled_and_removed(systemd_box):
    box = systemd_box
    timer = unit_file(box, "gpuagent@fresh.timer")
    before = timer.read_text()
    job_file(box, "fresh").write_text("schema_version = 1\n")

    result = sync(box, code=2)

    assert "1 job file(s) do not load: their timers are left as they are" in result.stdout
    assert f"error: job file {JOBS}/fresh.toml" in result.stderr
    assert timer.read_text() == before
    assert unit_state(box, "gpuagent@fresh.timer") == ("loaded", "enabled", "active")
    refused = gpuagent(box, "enable", "fresh", check=False)
    assert refused.returncode == 2 and "fresh.toml" in refused.stderr
    assert gpuagent(box, "disable", "fresh", check=False).returncode == 0
    assert unit_state(box, "gpuagent@fresh.timer")[1:] == ("disabled", "inactive")
    removed = gpuagent(box, "remove", "fresh", check=False)
    assert removed.returncode == 0, removed.stderr
    assert not timer.exists() and not job_file(box, "fresh").exists()


def test_an_edited_template_and_a_drop_in_are_kept_and_the_drop_in_applies(systemd_box, busybox_image):
    box = systemd_box
    template = unit_file(box, "gpuagent@.service")
    edited = template.read_text().replace("TimeoutStopSec=300", "TimeoutStopSec=200")
    template.write_text(edited)
    dropin = unit_file(box, "gpuagent@.service.d/override.conf")  # what `systemctl edit gpuagent@.service` writes
    dropin.parent.mkdir(exist_ok=True)  # the test box has a drop-in of its own there
    dropin.write_text("[Service]\nEnvironment=FROM_DROPIN=yes\n")
    box.exec(["systemctl", "daemon-reload"])
    found, *others = [f for f in json.loads(gpuagent(box, "doctor", "--json", check=False).stdout)["findings"] if f["check"] == "template-unit"]
    assert found["level"] == "warning" and "systemctl edit gpuagent@.service" in found["message"]
    assert [(other["level"], other["message"]) for other in others] == [
        ("ok", f"{UNITS}/{unit.name} is installed and current") for unit in SHIPPED_UNITS if unit is not SERVICE_TEMPLATE
    ]

    gpuagent(box, "add", "late", "--at", "07:00", "--image", busybox_image, "--", "true")
    result = sync(box)

    assert f"kept {UNITS}/gpuagent@.service: it differs from the unit this gpuagent ships" in result.stdout
    assert "gpuagent-on-failure@.service" not in result.stdout, "the handler is there as shipped: neither written nor kept"
    assert template.read_text() == edited and dropin.read_text() == "[Service]\nEnvironment=FROM_DROPIN=yes\n"
    assert "FROM_DROPIN=yes" in unit_property(box, "gpuagent@late.service", "Environment")
    assert unit_property(box, "gpuagent@late.service", "TimeoutStopUSec") == "3min 20s"
    assert f"{UNITS}/gpuagent@.service.d/override.conf" in unit_property(box, "gpuagent@late.service", "DropInPaths")


def test_a_disabled_job_stays_disabled_through_a_reinstall_and_a_timer_switched_by_hand_is_drift(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "paused", "--at", "04:30", "--image", busybox_image, "--", "true")
    assert unit_state(box, "gpuagent@paused.timer") == ("loaded", "enabled", "active")

    assert "job paused: disabled, timer off" in gpuagent(box, "disable", "paused").stdout
    assert "enabled = false" in job_file(box, "paused").read_text().split("[schedule]")[1]
    assert unit_state(box, "gpuagent@paused.timer")[1:] == ("disabled", "inactive")

    # A reinstall: the timers are gone, and systemd's enablement of this one is left behind.
    for timer in (box.root / UNITS.lstrip("/")).glob("gpuagent@*.timer"):
        timer.unlink()
    box.exec(["ln", "-sf", f"{UNITS}/gpuagent@paused.timer", f"{UNITS}/timers.target.wants/gpuagent@paused.timer"])
    box.exec(["systemctl", "daemon-reload"])
    dry = sync(box, "--dry-run")
    assert f"would write {UNITS}/gpuagent@paused.timer\n" in dry.stdout, "a timer of a disabled job is not one a new job switches on"
    assert f"would switch off {UNITS}/gpuagent@paused.timer (its job file says enabled = false)" in dry.stdout
    sync(box)
    assert unit_file(box, "gpuagent@paused.timer").is_file()
    assert unit_state(box, "gpuagent@paused.timer")[1:] == ("disabled", "inactive")
    assert unit_state(box, "gpuagent@late.timer") == ("loaded", "enabled", "active"), "an enabled job's timer is switched on"
    assert "nothing to change" in sync(box).stdout

    box.exec(["systemctl", "enable", "--now", "gpuagent@paused.timer"])
    [drift] = [finding for message, finding in job_findings(box).items() if message.startswith("job paused: its timer is enabled")]
    assert drift["level"] == "warning" and "job file says enabled = false" in drift["message"]
    assert drift["fix"] == "gpuagent sync (as the file says), or gpuagent enable paused (as the timer is)"
    assert "yes (job file: no)" in gpuagent(box, "show", "paused").stdout
    assert f"switched off {UNITS}/gpuagent@paused.timer" in sync(box).stdout
    assert unit_state(box, "gpuagent@paused.timer")[1:] == ("disabled", "inactive")
    assert not [message for message in job_findings(box) if message.startswith("job paused: its timer")]

    assert "job paused: enabled, timer on" in gpuagent(box, "enable", "paused").stdout
    assert "enabled" not in job_file(box, "paused").read_text(), "enabled is the default: the file does not say it"
    assert unit_state(box, "gpuagent@paused.timer") == ("loaded", "enabled", "active")


def test_a_disabled_after_only_job_is_not_started_by_its_upstream(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "source", "--at", "03:00", "--disabled", "--image", busybox_image, "--", "true")
    gpuagent(box, "add", "sink", "--after", "source", "--image", busybox_image, "--", "sh", "-c", "echo sunk")
    assert "job sink: disabled (source's successes do not start it)" in gpuagent(box, "disable", "sink").stdout
    assert "enabled = false" in job_file(box, "sink").read_text()
    assert "no" in [line.split()[-1] for line in gpuagent(box, "show", "sink").stdout.splitlines() if line.startswith("enabled")]

    gpuagent(box, "trigger", "source")
    finished_runs(box, "source")
    wait_for(
        lambda: "sink runs after source, but is not started: it is disabled" in box.journal("gpuagent@source.service"), what="the upstream's note"
    )
    time.sleep(3)  # time enough for a wrongly started follower to record a run
    assert runs(box, "sink") == []

    gpuagent(box, "enable", "sink")
    gpuagent(box, "trigger", "source")
    [sunk] = finished_runs(box, "sink")
    assert sunk.status == "succeeded"
