"""What the whole-run benchmarks share: `gpuagent run bench` of several scratch homes,
interleaved round by round so a slow moment of the machine falls on all of them, and
the medians printed against the first home's."""

import statistics
import subprocess
import time

from tests.support.agent import AgentHome


def compare_runs(homes: dict[str, AgentHome], runs: int) -> None:
    """Time `runs` runs of each home's job `bench` (after one round that warms image layers
    and .pyc files) and print each median and its difference to the first home's."""
    times: dict[str, list[float]] = {label: [] for label in homes}
    for round_ in range(runs + 1):
        for label, home in homes.items():
            started = time.perf_counter()
            # in the home: `python -m` puts its working directory first on sys.path, so a
            # run started in a checkout would import that checkout, not the home's PYTHONPATH
            subprocess.run(home.command("run", "bench"), env=home.env, cwd=home.root, check=True, capture_output=True)
            if round_:
                times[label].append(time.perf_counter() - started)
    base = statistics.median(next(iter(times.values())))
    width = max(map(len, homes))
    for label, samples in times.items():
        median = statistics.median(samples)
        print(f"gpuagent run, {label:{width}s}  median {median * 1e3:7.1f} ms   {(median - base) * 1e3:+7.1f} ms")
