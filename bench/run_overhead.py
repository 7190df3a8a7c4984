"""What gpuagent adds to one run: the admission decision, and `gpuagent run` of a job
whose container runs `true` against `docker run --rm IMAGE true`, interleaved, as
medians, what gpuagent adds to docker's, and a median ratio.

    python bench/run_overhead.py [--runs 15] [--image gpuagent-test/busybox:latest] [--baseline CHECKOUT]

--baseline runs another checkout of gpuagent (say a `git worktree add` of the commit
before a change, outside this tree) in the same rounds, so the two are compared on the
same moments of the machine.

Needs a running dockerd and the image (tests/setup-host.sh builds it). Admission is timed
in-process against the simulated NVML (tests/gpu_sim) with 8 GPUs: the pure decision
alone, and a full snapshot plus decision. Not a test: it prints numbers, asserts nothing.
"""

import argparse
import compileall
import resource
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


def run_overhead(directory: Path, image: str, runs: int, baseline: Path | None) -> None:
    """`runs` rounds of docker run and gpuagent run (and the baseline checkout's), each
    round in the same order, after one round that warms image layers and .pyc files."""
    commands = {"docker run --rm IMAGE true": (["docker", "run", "--rm", image, "true"], None, None)}
    checkouts = {"gpuagent run (this checkout)": None, **({f"gpuagent run ({baseline})": baseline} if baseline else {})}
    for number, (label, checkout) in enumerate(checkouts.items()):
        home = AgentHome(directory / f"agent{number}", {"PYTHONPATH": str(checkout)} if checkout else None)
        home.write_job("bench", image, ["true"])
        # run in the home: `python -m` puts its working directory first on sys.path, ahead
        # of the checkout PYTHONPATH names
        commands[label] = (home.command("run", "bench"), home.env, home.root)
    times: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    for round_ in range(runs + 1):
        for label, (command, env, cwd) in commands.items():
            before = _children_cpu()
            [took] = timed(lambda: subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True), 1)  # noqa: B023 - called at once
            if round_:
                times[label].append(took)
                cpu[label].append(_children_cpu() - before)
    docker = times.pop("docker run --rm IMAGE true")
    print(f"docker run --rm IMAGE true:{'':22s} median {statistics.median(docker) * 1e3:7.1f} ms")
    for label, samples in times.items():
        added = [ours - theirs for ours, theirs in zip(samples, docker, strict=True)]
        ratios = [ours / theirs for ours, theirs in zip(samples, docker, strict=True)]
        print(
            f"{label}: median {statistics.median(samples) * 1e3:7.1f} ms, "
            f"{statistics.median(added) * 1e3:+6.1f} ms over docker's (median of {runs} rounds), ratio {statistics.median(ratios):.2f}; "
            f"its own CPU time (user + system, its children's too) median {statistics.median(cpu[label]) * 1e3:6.1f} ms"
        )


def _children_cpu() -> float:
    """CPU seconds of the processes this one waited for: on a loaded machine a steadier
    measure of what gpuagent itself does than the wall clock (dockerd's work is not in it)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--image", default="gpuagent-test/busybox:latest")
    parser.add_argument("--baseline", type=Path, help="another checkout of gpuagent, run in the same rounds")
    parser.add_argument("--no-admission", action="store_true", help="only the whole runs")
    args = parser.parse_args()
    # as an installed package has them (pip byte-compiles on install): a sandbox with
    # PYTHONDONTWRITEBYTECODE would otherwise compile gpuagent afresh at every run
    for checkout in (REPO, *([args.baseline] if args.baseline else [])):
        compileall.compile_dir(checkout / "gpuagent", quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        if not args.no_admission:
            admission(Path(scratch))
        run_overhead(Path(scratch), args.image, args.runs, args.baseline and args.baseline.resolve())


if __name__ == "__main__":
    main()
