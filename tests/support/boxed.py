"""gpuagent inside a SystemdBox: boot one for a test, run gpuagent in it, read its
history through the box's root."""

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from gpuagent.host.historydb import HistoryStore
from tests.support.agent import wait_for
from tests.support.systemd_box import BoxError, SystemdBox, reap_stale_boxes

SYSTEM_HISTORY = "/var/lib/gpuagent/history.db"


@contextlib.contextmanager
def booted(box: SystemdBox) -> Iterator[SystemdBox]:
    """Boot `box`, yield it, tear it down.

    Skips only when not root; any other failure to boot fails the tests, so that CI
    cannot pass by silently skipping them.
    """
    if os.geteuid() != 0:
        pytest.skip("the systemd box needs root (run `sudo tests/run.sh`)")
    reap_stale_boxes()
    try:
        box.start()
    except BoxError as e:
        pytest.fail(f"the systemd box did not start: {e}", pytrace=False)
    try:
        yield box
    finally:
        box.stop()


def gpuagent(box, *args: str, check: bool = True, user=None):
    """`gpuagent ARGS` in the box, as root, or as `user` (a tests.support.installed.BoxUser)."""
    command = ["gpuagent", *args]
    return box.exec(user.command(*command) if user else command, check=check, env={"COLUMNS": "200"})


def seconds_ahead(seconds: int) -> str:
    """A calendar spec that elapses once, `seconds` from now (the box shares our clock)."""
    return (datetime.now() + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def runs(box, job: str, database: str = SYSTEM_HISTORY):
    """The job's runs in the box's history `database`, newest first."""
    path = box.root / database.lstrip("/")
    if not path.exists():
        return []
    with HistoryStore(path) as store:
        return store.runs(job)


def finished_runs(box, job: str, count: int = 1, timeout: float = 90, database: str = SYSTEM_HISTORY):
    """Wait until the job has `count` finished runs; all of them, newest first."""

    def done():
        found = [run for run in runs(box, job, database) if run.status != "running"]
        return found if len(found) >= count else None

    return wait_for(done, timeout=timeout, interval=0.5, what=f"{count} finished run(s) of {job}")


def finished_run(box, job: str, count: int = 1, timeout: float = 90):
    """The newest run, once the job has `count` finished ones."""
    return finished_runs(box, job, count, timeout)[0]


def unit_property(box, unit: str, name: str) -> str:
    return box.exec(["systemctl", "show", "-P", name, unit]).stdout.strip()
