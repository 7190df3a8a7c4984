"""What one metrics write costs (a run makes two: at its start and at its end), from this
tree and from another checkout (say a `git worktree add` of the commit before a change,
outside this tree), side by side: each write timed inside a fresh process that has loaded
what a run has, interleaved round by round, with the programs each write started.

    python bench/metrics_write.py --baseline CHECKOUT [--rounds 21]

The job is a calendar one (daily at 02:00) with 200 runs in history, as on a host that has
run it for months; each checkout writes into a home of its own, kept from round to round
as a host keeps its state directory. Without a running systemd (as in the test
containers) `systemctl show` is not started by either; in a booted systemd each write
starts it once more. Not a test: it prints numbers, asserts nothing.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.agent import AgentHome  # noqa: E402
from tests.support.records import record, run_record  # noqa: E402

# Two writes, as a run makes them, in a process that has loaded what a run has; the
# programs started are counted by wrapping subprocess.Popen.
_WRITES = """
import json, subprocess, sys, time
import gpuagent.runs.runner  # what a run has loaded by its first write
from gpuagent.core.paths import resolve_paths
from gpuagent.observe.metrics import refresh
started_programs = []
real_init = subprocess.Popen.__init__
def counting(self, args, *rest, **kwargs):
    started_programs.append(str(args[0] if isinstance(args, (list, tuple)) else args))
    real_init(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = counting
took = []
for _ in range(2):
    started = time.perf_counter()
    refresh(resolve_paths(user_mode=False), print, jobs=["bench"])
    took.append(time.perf_counter() - started)
print(json.dumps({"took": took, "programs": started_programs}))
"""


def home_for(directory: Path, checkout: Path) -> AgentHome:
    home = AgentHome(directory, extra_env={"PYTHONPATH": str(checkout)})
    home.write_job("bench", "gpuagent-test/busybox:latest", ["true"], schedule={"at": "02:00"})
    now = time.time()
    statuses = ["succeeded"] * 9 + ["failed"]
    record(directory / "state" / "history.db", *(run_record(f"r{n}", "bench", statuses[n % 10], now - (n + 1) * 86400) for n in range(200)))
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout of gpuagent")
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    checkouts = {"this tree": REPO, f"baseline ({args.baseline})": args.baseline.resolve()}
    with tempfile.TemporaryDirectory() as scratch:
        homes = {label: home_for(Path(scratch) / f"home{n}", checkout) for n, (label, checkout) in enumerate(checkouts.items())}
        first: dict[str, list[float]] = {label: [] for label in homes}
        second: dict[str, list[float]] = {label: [] for label in homes}
        programs: dict[str, list[str]] = {}
        for round_ in range(args.rounds + 1):
            for label, home in homes.items():
                result = subprocess.run([sys.executable, "-c", _WRITES], env=home.env, cwd=home.root, check=True, capture_output=True, text=True)
                answer = json.loads(result.stdout.splitlines()[-1])
                if round_:  # the first round warms .pyc files and the page cache
                    first[label].append(answer["took"][0])
                    second[label].append(answer["took"][1])
                    programs[label] = answer["programs"]
        width = max(map(len, homes))
        for label in homes:
            started = ", ".join(sorted({Path(program).name for program in programs[label]})) or "none"
            print(
                f"{label:{width}s}  first write median {statistics.median(first[label]) * 1e3:6.1f} ms, "
                f"second {statistics.median(second[label]) * 1e3:6.1f} ms ({args.rounds} rounds); "
                f"programs started by the two: {len(programs[label])} ({started})"
            )


if __name__ == "__main__":
    main()
