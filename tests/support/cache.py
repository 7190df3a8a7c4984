"""Directories the tests build once and reuse, under ``.cache/`` of the checkout.

Each cached directory has a marker file recording the key of the inputs that made it (a
hash of the recipe); a directory whose marker does not match is rebuilt. Builds take a
file lock, so parallel pytest sessions in one checkout never race one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"


def digest(*parts: str) -> str:
    """A short, stable hash of `parts`: the key of a cached build."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@contextlib.contextmanager
def build_lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build_cached(directory: Path, name: str, key: str, build: Callable[[Path], None]) -> Path:
    """directory/name, rebuilt by build(fresh_dir) unless its marker records `key`.

    `build` gets a path that does not exist yet and must create it; when it raises,
    nothing is cached and the old directory (if any) stays in place.
    """
    target, marker = directory / name, directory / f"{name}.complete"
    with build_lock(directory):
        if target.is_dir() and marker.is_file() and marker.read_text() == key:
            return target
        marker.unlink(missing_ok=True)
        fresh = directory / f"{name}.new"
        shutil.rmtree(fresh, ignore_errors=True)
        try:
            build(fresh)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        shutil.rmtree(target, ignore_errors=True)
        fresh.rename(target)
        marker.write_text(key)
        return target
