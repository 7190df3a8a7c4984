"""Fixtures for end-to-end tests: a real systemd booted in a container."""

import os

import pytest

from tests.support.images import ensure_busybox_image
from tests.support.systemd_box import BoxError, SystemdBox, reap_stale_boxes


@pytest.fixture(scope="module")
def systemd_box():
    """A freshly booted systemd box, shared by the tests of one module.

    Skips only when not root; any other failure to boot fails the tests, so that CI
    cannot pass by silently skipping them.
    """
    if os.geteuid() != 0:
        pytest.skip("the systemd box needs root (run `sudo tests/run.sh`)")
    reap_stale_boxes()
    box = SystemdBox()
    try:
        box.start()
    except BoxError as e:
        pytest.fail(f"the systemd box did not start: {e}", pytrace=False)
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="session")
def busybox_image() -> str:
    """Tag of the local busybox test image (built on first use)."""
    return ensure_busybox_image()
