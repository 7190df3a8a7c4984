"""Wheels for installing gpuagent with no package index, as install.sh and
packaging/build-deb.sh do with ``--wheelhouse DIR``.

- :func:`ensure_wheelhouse`: the project's dependencies and its build backend, for the
  boxes' python3 (CPython 3.11), downloaded once and cached under ``.cache/wheelhouse``.
  pip installs from it offline (``--no-index --find-links``), and so does the isolated
  build of a wheel from the checkout, so nothing in a box needs the network or TLS.
- :func:`build_gpuagent_wheel`: a wheel of this checkout, optionally under another
  version (what an upgrade installs).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from .cache import CACHE, REPO, build_cached, digest

WHEEL_PYTHON = "3.11"  # Debian bookworm's python3, as in the boxes

_PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


class WheelError(RuntimeError):
    pass


def _pip(*args: str) -> None:
    result = subprocess.run([*_PIP, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        raise WheelError(f"pip {' '.join(args[:2])} failed:\n{result.stderr[-3000:]}")


def _pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def project_version() -> str:
    return _pyproject()["project"]["version"]


def _requirements() -> list[str]:
    """What installing gpuagent from source needs: its dependencies and build backend."""
    project = _pyproject()
    return [*project["project"]["dependencies"], *project["build-system"]["requires"]]


def ensure_wheelhouse() -> Path:
    """A directory of wheels from which gpuagent installs with no index (cached)."""
    requirements = _requirements()

    def build(directory: Path) -> None:
        _pip(
            "download",
            "--quiet",
            "--dest",
            str(directory),
            "--only-binary=:all:",
            "--python-version",
            WHEEL_PYTHON,
            "--implementation",
            "cp",
            *requirements,
        )

    return build_cached(CACHE, "wheelhouse", digest(WHEEL_PYTHON, *requirements), build)


def build_gpuagent_wheel(dest: Path, version: str | None = None) -> Path:
    """Build a wheel of this checkout into `dest`; with `version`, as that version
    (pyproject.toml and gpuagent.__version__ both rewritten in a copy)."""
    wheelhouse = ensure_wheelhouse()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpuagent-wheel-") as tmp:
        source, out = Path(tmp) / "src", Path(tmp) / "out"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(REPO / name, source / name)
        shutil.copytree(REPO / "gpuagent", source / "gpuagent", ignore=shutil.ignore_patterns("__pycache__"))
        if version is not None:
            _set_version(source / "pyproject.toml", r'(?m)^version = "[^"]*"', f'version = "{version}"')
            _set_version(source / "gpuagent/__init__.py", r'(?m)^__version__ = "[^"]*"', f'__version__ = "{version}"')
        _pip("wheel", "--quiet", "--no-deps", "--no-index", "--find-links", str(wheelhouse), "--wheel-dir", str(out), str(source))
        (wheel,) = out.glob("gpuagent-*.whl")
        return Path(shutil.move(wheel, dest / wheel.name))


def _set_version(path: Path, pattern: str, replacement: str) -> None:
    text, count = re.subn(pattern, replacement, path.read_text(), count=1)
    if count != 1:
        raise WheelError(f"no version line matching {pattern!r} in {path}")
    path.write_text(text)
