"""File locks (flock): a per-job lock, so two runs of one job never overlap, and the
host-wide admission lock. The kernel drops a lock when its holder dies, even by SIGKILL."""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def flocked(path: Path, wait: bool) -> Iterator[bool]:
    """Hold an exclusive lock on `path` for the block. With wait=False, yields False at
    once if another process holds it; with wait=True, waits and yields True."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
