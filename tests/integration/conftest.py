"""Fixtures for tests against the host's real dockerd (tests/setup-host.sh starts it)."""

import pytest

from tests.support.images import ensure_busybox_image, ensure_python_image


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        pytest.fail(f"dockerd is not reachable ({e}): run `sudo tests/setup-host.sh`", pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    """Tag of the local busybox test image (built on first use)."""
    return ensure_busybox_image()


@pytest.fixture(scope="session")
def python_image(docker_client) -> str:
    """Tag of the local Debian python3.11 test image (built on first use)."""
    return ensure_python_image()
