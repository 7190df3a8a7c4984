"""The Dockerfiles pass hadolint and the shell scripts of installing and packaging pass
shellcheck, with no finding left (both linters come with the test extra)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cache import REPO

BIN = Path(sys.executable).parent  # the linters' console scripts, beside this python
DOCKERFILES = sorted(REPO.glob("images/*/Dockerfile"))
SHELL_SCRIPTS = [REPO / "install.sh", REPO / "packaging/build-deb.sh", *sorted((REPO / "packaging/debian").iterdir())]


def lint(tool: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / tool, path], capture_output=True, text=True, cwd=REPO, timeout=60)


def test_there_are_dockerfiles_and_scripts_to_lint():
    assert {p.parent.name for p in DOCKERFILES} >= {"runtime", "example"}
    assert {p.name for p in SHELL_SCRIPTS} >= {"install.sh", "build-deb.sh", "postinst", "prerm", "postrm"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_passes_hadolint(dockerfile):
    result = lint("hadolint", dockerfile)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_script_passes_shellcheck(script):
    result = lint("shellcheck", script)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
