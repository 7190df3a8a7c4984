"""install.sh on a fresh host with a real systemd: a first install, a second run that
changes nothing, an upgrade under live jobs, uninstall, purge, and a --user install
whose user units run a job. The tests of this module run in order, on one box."""

import os
import re
import shutil

import pytest

from tests.support.boxed import SYSTEM_HISTORY, booted, finished_runs, gpuagent, runs
from tests.support.cache import REPO
from tests.support.installed import (
    UPGRADE_VERSION,
    VERSION,
    WHEELHOUSE_IN_BOX,
    add_docker_user,
    bare_host_box,
    file_state,
    install_sh,
    mode_and_owner,
    unit_state,
)
from tests.support.wheels import build_gpuagent_wheel

OFFLINE = ("--wheelhouse", WHEELHOUSE_IN_BOX)
TEMPLATE = "/etc/systemd/system/gpuagent@.service"
HANDLER = "/etc/systemd/system/gpuagent-on-failure@.service"
# What an install writes; a run that changes nothing leaves each of them as it was.
INSTALLED_FILES = (
    "/usr/local/bin/gpuagent",
    TEMPLATE,
    HANDLER,
    "/opt/gpuagent/pyvenv.cfg",
    "/opt/gpuagent/bin/gpuagent",
    "/etc/gpuagent",
    "/etc/gpuagent/jobs",
    "/var/lib/gpuagent",
)


@pytest.fixture(scope="module")
def box():
    with booted(bare_host_box()) as box:
        yield box


def test_a_fresh_install_sets_up_the_agent(box):
    result = install_sh(box, *OFFLINE)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"installed gpuagent {VERSION} into /opt/gpuagent" in result.stdout
    assert box.exec(["readlink", "/usr/local/bin/gpuagent"]).stdout.strip() == "/opt/gpuagent/bin/gpuagent"
    assert gpuagent(box, "--version").stdout.strip() == f"gpuagent {VERSION}"
    assert "home = /usr/bin" in (box.root / "opt/gpuagent/pyvenv.cfg").read_text()
    # The units as the package ships them, and loaded by systemd.
    for unit, probe in ((TEMPLATE, "gpuagent@probe.service"), (HANDLER, "gpuagent-on-failure@probe.service")):
        assert (box.root / unit.lstrip("/")).read_text() == (REPO / "units" / os.path.basename(unit)).read_text()
        assert box.exec(["systemctl", "show", "-P", "FragmentPath", probe]).stdout.strip() == unit
    assert box.exec(["systemctl", "show", "-P", "OnFailure", "gpuagent@probe.service"]).stdout.strip() == "gpuagent-on-failure@probe.service"
    # what closes, at each boot, the runs a host that went down left running
    assert box.exec(["systemctl", "is-enabled", "gpuagent-boot.service"]).stdout.strip() == "enabled"
    assert "gpuagent-boot.service" in box.exec(["systemctl", "show", "-P", "After", "gpuagent@probe.service"]).stdout
    assert mode_and_owner(box, "/etc/gpuagent") == "755 0:0"
    assert mode_and_owner(box, "/etc/gpuagent/jobs") == "755 0:0"
    assert mode_and_owner(box, "/var/lib/gpuagent") == "750 0:0"
    # The host check ran, after the install.
    assert "gpuagent doctor" in result.stdout and "template-unit" in result.stdout


def test_a_second_run_changes_nothing_and_says_so(box):
    before = file_state(box.root, *INSTALLED_FILES)

    result = install_sh(box, *OFFLINE)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"nothing to change: gpuagent {VERSION} is installed and up to date" in result.stdout
    assert not re.search(r"^install\.sh: (created|wrote|linked|installed|reinstalled|upgraded)", result.stdout, re.M)
    assert file_state(box.root, *INSTALLED_FILES) == before


def test_an_upgrade_keeps_jobs_history_and_timers(box, busybox_image, tmp_path):
    gpuagent(box, "add", "nightly", "--at", "03:00", "--image", busybox_image, "--", "echo", "trained")
    gpuagent(box, "trigger", "nightly")
    (first,) = finished_runs(box, "nightly")
    assert first.status == "succeeded", first
    job_file = (box.root / "etc/gpuagent/jobs/nightly.toml").read_bytes()
    wheel = build_gpuagent_wheel(tmp_path, version=UPGRADE_VERSION)
    shutil.copy(wheel, box.root / "root" / wheel.name)

    result = install_sh(box, *OFFLINE, f"/root/{wheel.name}")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"upgraded gpuagent {VERSION} -> {UPGRADE_VERSION}" in result.stdout
    assert gpuagent(box, "--version").stdout.strip() == f"gpuagent {UPGRADE_VERSION}"
    assert (box.root / "etc/gpuagent/jobs/nightly.toml").read_bytes() == job_file
    assert unit_state(box, "gpuagent@nightly.timer") == ("loaded", "enabled", "active")
    assert "install.sh: sync: nothing to change: 1 timer(s) match their job files" in result.stdout
    assert [run.run_id for run in runs(box, "nightly")] == [first.run_id]
    # The upgraded agent runs the job, and adds to the same history.
    gpuagent(box, "trigger", "nightly")
    latest, earlier = finished_runs(box, "nightly", count=2)
    assert (latest.status, earlier.run_id) == ("succeeded", first.run_id)


def test_uninstall_removes_the_agent_and_timers_and_keeps_jobs_and_history(box):
    result = install_sh(box, "--uninstall")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "jobs (/etc/gpuagent) and history (/var/lib/gpuagent) are kept" in result.stdout
    for gone in (
        "opt/gpuagent",
        "usr/local/bin/gpuagent",
        TEMPLATE,
        HANDLER,
        "etc/systemd/system/gpuagent@nightly.timer",
        "etc/systemd/system/timers.target.wants/gpuagent@nightly.timer",
        "etc/systemd/system/default.target.wants/gpuagent-boot.service",
    ):
        assert not (box.root / gone.lstrip("/")).exists(), gone
    assert "gpuagent@" not in box.exec(["systemctl", "list-timers", "--all", "--no-pager"]).stdout
    assert unit_state(box, "gpuagent@nightly.timer") == ("not-found", "", "inactive")
    assert (box.root / "etc/gpuagent/jobs/nightly.toml").is_file()
    assert len(runs(box, "nightly")) == 2

    again = install_sh(box, "--uninstall")
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_a_reinstall_brings_the_timers_back_from_the_job_files(box):
    result = install_sh(box, *OFFLINE)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "install.sh: sync: wrote /etc/systemd/system/gpuagent@nightly.timer (a new job: timer enabled)" in result.stdout
    assert unit_state(box, "gpuagent@nightly.timer") == ("loaded", "enabled", "active")
    assert len(runs(box, "nightly")) == 2


def test_purge_removes_jobs_and_history_too(box):
    result = install_sh(box, "--purge")

    assert result.returncode == 0, result.stdout + result.stderr
    assert not (box.root / "etc/gpuagent").exists()
    assert not (box.root / SYSTEM_HISTORY.lstrip("/")).parent.exists()


def test_user_install_runs_jobs_with_user_units_and_uninstalls(box, busybox_image):
    alice = add_docker_user(box, "alice")

    result = install_sh(box, "--user", *OFFLINE, user=alice)

    assert result.returncode == 0, result.stdout + result.stderr
    home = box.root / alice.home.lstrip("/")
    assert os.readlink(home / ".local/bin/gpuagent") == f"{alice.home}/.local/share/gpuagent/bin/gpuagent"
    assert (home / ".config/systemd/user/gpuagent@.service").is_file()
    # the user manager finds no bare `gpuagent`: each unit's drop-in names the installed one
    handler_dropin = (home / ".config/systemd/user/gpuagent-on-failure@.service.d/10-install.conf").read_text()
    assert f"ExecStart=\nExecStart={alice.home}/.local/share/gpuagent/bin/gpuagent on-failure %i\n" in handler_dropin
    gpuagent(box, "add", "mine", "--at", "04:00", "--image", busybox_image, "--", "echo", "as alice", user=alice)
    assert unit_state(box, "gpuagent@mine.timer", user=alice) == ("loaded", "enabled", "active")
    gpuagent(box, "trigger", "mine", user=alice)
    (run,) = finished_runs(box, "mine", database=alice.history)
    assert run.status == "succeeded", run
    assert not (box.root / "etc/gpuagent").exists(), "a --user install touches nothing of the system's"

    removed = install_sh(box, "--user", "--uninstall", user=alice)

    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not (home / ".local/share/gpuagent").exists()
    assert not (home / ".config/systemd/user/gpuagent@mine.timer").exists()
    assert not (home / ".config/systemd/user/gpuagent-on-failure@.service").exists()
    assert not (home / ".config/systemd/user/gpuagent-on-failure@.service.d").exists()
    assert (home / ".config/gpuagent/jobs/mine.toml").is_file()


def test_refusals_are_clear_and_change_nothing(box):
    as_user = install_sh(box, "--user")
    assert as_user.returncode == 1 and "--user installs for the user running it" in as_user.stderr
    unknown = install_sh(box, "--frobnicate")
    assert unknown.returncode == 2 and "unknown option --frobnicate" in unknown.stderr
    not_a_wheel = install_sh(box, *OFFLINE, "/etc/os-release")
    assert not_a_wheel.returncode == 1 and "is not a wheel" in not_a_wheel.stderr
    assert not (box.root / "opt/gpuagent").exists()
