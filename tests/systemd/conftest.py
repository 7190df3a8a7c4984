"""Fixtures for end-to-end tests: a real systemd booted in a container."""

import pytest

from tests.support.boxed import booted
from tests.support.images import ensure_busybox_image
from tests.support.systemd_box import SystemdBox


@pytest.fixture(scope="module")
def systemd_box():
    """A freshly booted systemd box, shared by the tests of one module, with gpuagent
    runnable from the checkout."""
    with booted(SystemdBox()) as box:
        yield box


@pytest.fixture(scope="session")
def busybox_image() -> str:
    """Tag of the local busybox test image (built on first use)."""
    return ensure_busybox_image()
