"""The unit tier runs in-process only: a test here that starts a program fails, naming
the program, so the fast lane stays fast and needs nothing but the virtualenv. A test that
must run a program (gpuagent itself, systemd-analyze, a linter, a shell) belongs in
tests/tools, or in the tier of what else it needs."""

import os
import subprocess

import pytest

from tests.gpu_sim import build_library


class ProgramStarted(BaseException):
    """Not an Exception, so that no `except Exception` in the code under test hides it."""


@pytest.fixture(scope="session")
def simulated_nvml_built() -> None:
    """The simulated NVML library, compiled once (gcc) into .cache/ before any test starts
    (fake_gpus loads it in-process)."""
    build_library()


@pytest.fixture(autouse=True)
def no_programs(simulated_nvml_built, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(call: str):
        def start(*args, **kwargs):
            what = args[1] if call == "subprocess" else args[:1]
            raise ProgramStarted(f"tests/unit starts no programs, and this test started {what} ({call}): move it to tests/tools or the tier it needs")

        return start

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse("subprocess"))
    for call in ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp"):
        monkeypatch.setattr(os, call, refuse(f"os.{call}"))
