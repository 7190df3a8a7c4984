"""The example image's scripts (images/example/) run here, without a container: with the
CPU build of torch the test image carries on PYTHONPATH, and each run's checkpoints,
logs and gpuagent metrics file in a directory of the test's."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cache import REPO
from tests.support.images import ensure_torch_site

EXAMPLE = REPO / "images/example"
METRICS_FILE = "gpuagent-metrics.json"  # in the run's directory


def torch_site_or_skip() -> Path:
    """The cached torch's site directory, or a skip on a python it was not built for."""
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the cached torch is built for CPython 3.11, the example image's python")
    return ensure_torch_site()


def run_script(script: str, torch_site: Path, work: Path, **settings) -> subprocess.CompletedProcess:
    """images/example/`script` with its data in `work`, and `settings` (STEPS=40 as
    steps=40) in its environment, as gpuagent would run it: told to write its numbers to
    work/METRICS_FILE."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(torch_site),
        "HOME": str(work),
        "CHECKPOINT_DIR": str(work / "checkpoints"),
        "LOG_DIR": str(work / "logs"),
        "GPUAGENT_METRICS_FILE": str(work / METRICS_FILE),
        **{key.upper(): str(value) for key, value in settings.items()},
    }
    return subprocess.run([sys.executable, EXAMPLE / script], env=env, capture_output=True, text=True, timeout=300)
