"""NVML as a fresh interpreter sees it: the fake through its environment, no library, no import."""

import ctypes.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.unit.test_gpu import UUID_A, UUID_B

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_importing_gpu_does_not_import_pynvml() -> None:
    child = run_python("import sys, gpuagent.host.nvml; print('pynvml' in sys.modules)", dict(os.environ))

    assert child.stdout == "False\n", child.stderr


def test_a_subprocess_reads_the_fake_through_its_environment(tmp_path: Path) -> None:
    host = FakeGpuHost(tmp_path, [FakeGpu(UUID_A, used=GiB, processes=[(4321, GiB)]), FakeGpu(UUID_B)])
    code = "import dataclasses, json; from gpuagent.host.nvml import read_gpus; print(json.dumps([dataclasses.asdict(gpu) for gpu in read_gpus()]))"

    child = run_python(code, {**os.environ, **host.env()})

    assert child.returncode == 0, child.stderr
    gpus = json.loads(child.stdout)
    assert [(gpu["uuid"], gpu["free_bytes"], gpu["processes"]) for gpu in gpus] == [
        (UUID_A, 79 * GiB, [{"pid": 4321, "used_bytes": GiB}]),
        (UUID_B, 80 * GiB, []),
    ]


@pytest.mark.skipif(ctypes.util.find_library("nvidia-ml") is not None, reason="a real libnvidia-ml is installed")
def test_a_missing_library_raises_nvml_unavailable() -> None:
    env = {key: value for key, value in os.environ.items() if key != "LD_LIBRARY_PATH"}
    code = (
        "from gpuagent.host.nvml import read_gpus\n"
        "from gpuagent.core.errors import NvmlUnavailable\n"
        "try:\n    read_gpus()\n"
        "except NvmlUnavailable as err:\n    print(err.message)\n"
    )

    child = run_python(code, env)

    assert child.stdout == "NVIDIA driver not found: NVML could not be loaded\n", child.stderr
