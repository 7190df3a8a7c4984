"""What a run's own numbers cost it: `gpuagent run` of a job whose container runs `true`,
from a checkout of the baseline (the last commit before runs reported metrics) and from
this tree, and from this tree with a container that writes 20 metrics, interleaved, as
medians and the difference to the baseline; and, without docker's noise, the run-files
work alone (make the directory, read and check a 20-metric file, remove it), in process.

    python bench/run_metrics_cost.py [--runs 11] [--baseline REV] [--image gpuagent-test/busybox:latest]

Needs a running dockerd and the image (tests/setup-host.sh builds it), and git. Not a
test: it prints numbers, asserts nothing.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.agent_runs import compare_runs  # noqa: E402
from gpuagent.core.paths import resolve_paths  # noqa: E402
from gpuagent.host.runfiles import RunFiles  # noqa: E402
from tests.support.agent import AgentHome  # noqa: E402

BASELINE = "5823eab"  # issue 9's end: no run files, no metrics column
METRICS = {f"metric_{n}": n / 7 for n in range(20)}
WRITES = f"echo '{json.dumps(METRICS)}' > \"$GPUAGENT_METRICS_FILE\""


def whole_runs(root: Path, baseline: Path, image: str, runs: int) -> None:
    plain, writer = AgentHome(root / "plain"), AgentHome(root / "writer")
    old = AgentHome(root / "old", extra_env={"PYTHONPATH": str(baseline)})
    old.write_job("bench", image, ["true"])
    plain.write_job("bench", image, ["true"])
    writer.write_job("bench", image, ["sh", "-c", WRITES])
    compare_runs({"baseline checkout": old, "this tree, no metrics": plain, "this tree, 20 metrics": writer}, runs)
    reported = writer.last_run("bench").metrics
    print(f"metrics kept by the last run: {len(reported or {})} of {len(METRICS)}")


def run_files_alone(root: Path, rounds: int = 1000) -> None:
    paths = resolve_paths(user_mode=False, env={"GPUAGENT_RUN_FILES_DIR": str(root / "runs"), "GPUAGENT_RUNTIME_DIR": str(root)})
    started = time.perf_counter()
    for n in range(rounds):
        files = RunFiles(paths, "bench", f"r{n}", None)
        (files.root / "out" / "metrics.json").write_text(json.dumps(METRICS))
        files.reported()
        files.remove()
    print(f"run files alone (make, write 20 metrics, read and check, remove): {(time.perf_counter() - started) / rounds * 1e6:.0f} µs a run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--image", default="gpuagent-test/busybox:latest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        baseline = root / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(baseline), args.baseline], check=True, capture_output=True)
        try:
            whole_runs(root, baseline, args.image, args.runs)
            run_files_alone(root)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(baseline)], check=True, capture_output=True)


if __name__ == "__main__":
    main()
