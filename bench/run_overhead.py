"""What gpuagent adds to one run: the admission decision, and `gpuagent run` of a job
whose container runs `true` against `docker run --rm IMAGE true`, interleaved, as a
median ratio.

    python bench/run_overhead.py [--runs 15] [--image gpuagent-test/busybox:latest]

Needs a running dockerd and the image (tests/setup-host.sh builds it). Admission is timed
in-process against the simulated NVML (tests/gpu_sim) with 8 GPUs: the pure decision
alone, and a full snapshot plus decision. Not a test: it prints numbers, asserts nothing.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpuagent.host.nvml import read_gpus  # noqa: E402
from gpuagent.runs.admission import Needs, decide  # noqa: E402
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB  # noqa: E402
from tests.support.agent import AgentHome  # noqa: E402


def timed(action, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def admission(directory: Path) -> None:
    gpus = [FakeGpu(uuid=f"GPU-{i:08d}-0000-0000-0000-000000000000", used=(10 + 8 * i) * GiB, processes=[(1000 + i, GiB)]) for i in range(8)]
    host = FakeGpuHost(directory, gpus=gpus)
    needs = Needs(count=2, min_free_vram=20 * GiB)
    with pytest.MonkeyPatch.context() as patch:
        host.activate(patch)
        snapshot = read_gpus()
        pure = timed(lambda: decide(snapshot, needs), 2000)
        full = timed(lambda: decide(read_gpus(), needs), 200)
    print(f"admission decision (8 GPUs, pure):            median {statistics.median(pure) * 1e6:8.1f} us")
    print(f"NVML snapshot + decision (simulated NVML):    median {statistics.median(full) * 1e3:8.2f} ms")


def run_overhead(directory: Path, image: str, runs: int) -> None:
    home = AgentHome(directory / "agent")
    home.write_job("bench", image, ["true"])
    agent = home.command("run", "bench")
    plain = ["docker", "run", "--rm", image, "true"]
    for command in (agent, plain):  # warm both: image layers, page cache, .pyc files
        subprocess.run(command, env=home.env, check=True, capture_output=True)
    ours, theirs = [], []
    for _ in range(runs):
        ours += timed(lambda: subprocess.run(agent, env=home.env, check=True, capture_output=True), 1)
        theirs += timed(lambda: subprocess.run(plain, check=True, capture_output=True), 1)
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    print(f"gpuagent run (container runs true):           median {statistics.median(ours) * 1e3:8.1f} ms")
    print(f"docker run --rm IMAGE true:                   median {statistics.median(theirs) * 1e3:8.1f} ms")
    print(f"ratio, median of {runs} interleaved pairs:        {statistics.median(ratios):8.2f}   (target <= 1.15)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--image", default="gpuagent-test/busybox:latest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        admission(Path(scratch))
        run_overhead(Path(scratch), args.image, args.runs)


if __name__ == "__main__":
    main()
