"""The user's terminal, bridged to a container's: what `gpuagent shell` runs in.

Like `docker run -it`: the local terminal goes raw (every key, Ctrl-C included, goes to
the container's shell), bytes are copied both ways until the container's side closes,
and the container's terminal follows the local one's size. The terminal is put back as
it was however the bridge ends.
"""

import contextlib
import os
import select
import signal
import sys
import termios
import tty
from collections.abc import Callable, Iterator

from gpuagent.core.errors import DockerError
from gpuagent.host.dockerd import Docker

CHUNK = 64 * 1024


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def terminal_bridge(docker: Docker, container) -> Callable[[], None]:
    """Attach to the container's terminal now (before its start, to miss none of its
    output); the function returned follows it once it has started, until it closes."""
    sock = docker.attach_terminal(container)

    def follow() -> None:
        stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
        try:
            with _raw(stdin), _window_changes() as resized:
                _resize(docker, container, stdout)
                _copy(sock, stdin, stdout, resized, lambda: _resize(docker, container, stdout))
        finally:
            sock.close()

    return follow


def _copy(sock, stdin: int, stdout: int, resized: int, on_resize: Callable[[], None]) -> None:
    readers = [sock, stdin, resized]
    while True:
        ready, _, _ = select.select(readers, [], [])
        if resized in ready:
            os.read(resized, CHUNK)
            on_resize()
        if stdin in ready:
            data = os.read(stdin, CHUNK)
            if data:
                sock.sendall(data)
            else:
                readers.remove(stdin)  # no more input; the output still comes
        if sock in ready:
            data = sock.recv(CHUNK)
            if not data:
                return  # the container's terminal closed: its shell exited
            os.write(stdout, data)


def _resize(docker: Docker, container, stdout: int) -> None:
    size = os.get_terminal_size(stdout)
    with contextlib.suppress(DockerError):  # it may be ending already
        docker.resize(container, size.lines, size.columns)


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        # A terminal that hung up is gone (EIO): there is nothing to put back, and the
        # reason the bridge ends (the hang-up) must not be lost to this.
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _window_changes() -> Iterator[int]:
    """A pipe that gets a byte at each SIGWINCH: the bridge's select wakes on it, and
    resizes outside the signal handler."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def changed(signum, frame) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(write_end, b".")

    previous = signal.signal(signal.SIGWINCH, changed)
    try:
        yield read_end
    finally:
        signal.signal(signal.SIGWINCH, previous)
        os.close(read_end)
        os.close(write_end)
