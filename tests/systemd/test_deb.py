"""The .deb from packaging/build-deb.sh on a fresh host with a real systemd: it installs
with dpkg, runs a job, upgrades under it, is removed, reinstalled (a job paused before
stays paused) and purged cleanly. The tests of this module run in order, on one box."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.boxed import booted, finished_runs, gpuagent, runs
from tests.support.cache import CACHE, REPO, build_cached, digest
from tests.support.installed import UPGRADE_VERSION, VERSION, mode_and_owner, unit_state
from tests.support.systemd_box import SystemdBox
from tests.support.wheels import build_gpuagent_wheel, ensure_wheelhouse

DEBS_IN_BOX = "/opt/debs"
PACKAGE_TEMPLATE = "/usr/lib/systemd/system/gpuagent@.service"
PACKAGE_HANDLER = "/usr/lib/systemd/system/gpuagent-on-failure@.service"


def build_deb(out: Path, *source: Path) -> str:
    """Build a .deb into `out` (of the checkout, or of a wheel); its file name."""
    result = subprocess.run(
        [REPO / "packaging/build-deb.sh", "--wheelhouse", ensure_wheelhouse(), "--out", out, *source],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(re.search(r"^build-deb\.sh: built (\S+)$", result.stdout, re.M).group(1)).name


def tzdata_deb() -> Path:
    """Debian's tzdata package, which the .deb depends on and the box's root lacks (dpkg
    -i resolves no dependency): downloaded once, by apt on this bookworm host."""

    def download(directory: Path) -> None:
        directory.mkdir()
        subprocess.run(["apt-get", "download", "tzdata"], cwd=directory, capture_output=True, check=True, timeout=300)

    [deb] = build_cached(CACHE, "tzdata-deb", digest("apt-get download tzdata"), download).glob("tzdata_*.deb")
    return deb


@pytest.fixture(scope="module")
def debs(tmp_path_factory) -> tuple[Path, str, str]:
    """The directory of the two packages: this checkout's, and its upgrade (and tzdata's)."""
    out = tmp_path_factory.mktemp("debs")
    first = build_deb(out)
    second = build_deb(out, build_gpuagent_wheel(out / "wheels", version=UPGRADE_VERSION))
    shutil.copy(tzdata_deb(), out / "tzdata.deb")
    return out, first, second


@pytest.fixture(scope="module")
def box(debs):
    with booted(SystemdBox([(debs[0], DEBS_IN_BOX, True)], checkout_agent=False)) as box:
        yield box


def dpkg(box, *args: str):
    return box.exec(["dpkg", *args], check=False, timeout=120)


def package_status(box) -> str:
    return dpkg(box, "-s", "gpuagent").stdout


def test_the_package_is_built_for_this_release(debs):
    out, first, _ = debs
    fields = subprocess.run(
        ["dpkg-deb", "--field", out / first, "Version", "Architecture", "Depends"], capture_output=True, text=True, check=True
    ).stdout
    assert first == f"gpuagent_{VERSION}_amd64.deb"  # charset-normalizer ships compiled code
    assert "Depends: python3.11, systemd, tzdata" in fields, "tzdata: a job's --tz needs the zone database (doctor checks it)"


def test_it_installs_and_runs_a_job(box, debs, busybox_image):
    refused = dpkg(box, "-i", f"{DEBS_IN_BOX}/{debs[1]}")
    assert refused.returncode != 0 and "depends on tzdata" in refused.stderr, refused.stdout + refused.stderr
    # tzdata's postinst points /etc/localtime at the zone it asks debconf for, where nspawn
    # has bound the host's file
    box.exec(["sh", "-c", "umount /etc/localtime 2>/dev/null; true"])
    tzdata = box.exec(["dpkg", "-i", f"{DEBS_IN_BOX}/tzdata.deb"], check=False, env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=120)
    assert tzdata.returncode == 0, tzdata.stdout + tzdata.stderr
    result = dpkg(box, "-i", f"{DEBS_IN_BOX}/{debs[1]}")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Status: install ok installed" in package_status(box)
    assert gpuagent(box, "--version").stdout.strip() == f"gpuagent {VERSION}"
    assert box.exec(["readlink", "/usr/bin/gpuagent"]).stdout.strip() == "/opt/gpuagent/bin/gpuagent"
    assert mode_and_owner(box, "/etc/gpuagent/jobs") == "755 0:0"
    assert mode_and_owner(box, "/var/lib/gpuagent") == "750 0:0"
    doctor = gpuagent(box, "doctor", check=False)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    for unit, probe in ((PACKAGE_TEMPLATE, "gpuagent@probe.service"), (PACKAGE_HANDLER, "gpuagent-on-failure@probe.service")):
        assert re.search(rf"ok\s+template-unit\s+{unit} is installed", doctor.stdout)
        loaded = box.exec(["systemctl", "show", "-P", "FragmentPath", probe]).stdout.strip()
        assert box.exec(["realpath", loaded]).stdout.strip() == unit, "bookworm's systemd names it by /lib, a link to /usr/lib"
    assert not (box.root / "etc/systemd/system/gpuagent-on-failure@.service").exists(), "sync writes no unit the package has"
    assert box.exec(["systemctl", "is-enabled", "gpuagent-boot.service"]).stdout.strip() == "enabled"
    shared = box.root / "usr/share/gpuagent/monitoring"
    assert (shared / "prometheus/gpuagent-rules.yml").read_text() == (REPO / "monitoring/prometheus/gpuagent-rules.yml").read_text()
    assert (shared / "grafana/gpuagent-dashboard.json").is_file()

    gpuagent(box, "add", "nightly", "--at", "03:00", "--image", busybox_image, "--", "echo", "from the deb")
    gpuagent(box, "trigger", "nightly")
    (run,) = finished_runs(box, "nightly")
    assert run.status == "succeeded", run
    assert "from the deb" in gpuagent(box, "logs", "nightly").stdout


def test_an_upgrade_keeps_the_timer_and_history(box, debs):
    result = dpkg(box, "-i", f"{DEBS_IN_BOX}/{debs[2]}")

    assert result.returncode == 0, result.stdout + result.stderr
    assert gpuagent(box, "--version").stdout.strip() == f"gpuagent {UPGRADE_VERSION}"
    assert unit_state(box, "gpuagent@nightly.timer") == ("loaded", "enabled", "active")
    assert "nothing to change: 1 timer(s) match their job files" in result.stdout, "postinst runs gpuagent sync"
    gpuagent(box, "trigger", "nightly")
    latest, first = finished_runs(box, "nightly", count=2)
    assert latest.status == first.status == "succeeded"


def test_remove_stops_the_timers_and_keeps_jobs_and_history(box, busybox_image):
    gpuagent(box, "add", "paused", "--at", "04:00", "--disabled", "--image", busybox_image, "--", "true")
    result = dpkg(box, "-r", "gpuagent")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "not empty" not in result.stdout + result.stderr, "every file of the package went"
    assert not (box.root / "opt/gpuagent").exists()
    assert not (box.root / "usr/bin/gpuagent").exists()
    assert not (box.root / "etc/systemd/system/gpuagent@nightly.timer").exists()
    assert unit_state(box, "gpuagent@nightly.timer") == ("not-found", "", "inactive")
    assert not (box.root / "etc/systemd/system/default.target.wants/gpuagent-boot.service").is_symlink()
    assert (box.root / "etc/gpuagent/jobs/nightly.toml").is_file()
    assert len(runs(box, "nightly")) == 2
    assert "Status: deinstall ok config-files" in package_status(box)


def test_a_reinstall_brings_the_timers_back_from_the_job_files(box, debs):
    result = dpkg(box, "-i", f"{DEBS_IN_BOX}/{debs[2]}")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote /etc/systemd/system/gpuagent@nightly.timer (a new job: timer enabled)" in result.stdout
    assert unit_state(box, "gpuagent@nightly.timer") == ("loaded", "enabled", "active")
    assert unit_state(box, "gpuagent@paused.timer") == ("loaded", "disabled", "inactive"), "its job file says enabled = false"


def test_purge_removes_everything(box):
    result = dpkg(box, "-P", "gpuagent")

    assert result.returncode == 0, result.stdout + result.stderr
    for gone in (
        "etc/gpuagent",
        "var/lib/gpuagent",
        PACKAGE_TEMPLATE.lstrip("/"),
        PACKAGE_HANDLER.lstrip("/"),
        "etc/systemd/system/gpuagent@nightly.timer",
    ):
        assert not (box.root / gone).exists(), gone
    assert dpkg(box, "-s", "gpuagent").returncode != 0
