"""Reaching a notebook's JupyterLab where it listens: the host's 127.0.0.1, and from a
laptop through an SSH tunnel to this host."""

import errno
import getpass
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Collection

from gpuagent.core.errors import GpuAgentError
from gpuagent.sessions.jupyterlab import PORT_RANGE

LOOPBACK = "127.0.0.1"


def free_port(first: int, taken: Collection[int]) -> int:
    """The first port from `first` up that no other notebook holds and nothing on this
    host listens on (it binds it, then lets it go)."""
    for port in range(first, PORT_RANGE.stop):
        if port not in taken and bindable(port):
            return port
    raise GpuAgentError(f"no free port on {LOOPBACK} from {first} up", "give one with --port")


def bindable(port: int) -> bool:
    """Whether nothing on this host listens on the port of 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def answers(port: int, token: str, timeout: float = 2.0) -> bool:
    """Whether JupyterLab answers its API with the token: the URL works."""
    request = urllib.request.Request(f"http://{LOOPBACK}:{port}/api/status", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ssh_login() -> str:
    """user@host for the tunnel: the user who ran sudo, else this one; this host's name."""
    user = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"{user}@{socket.getfqdn()}"
