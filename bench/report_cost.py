"""What `gpuagent report` costs on a long history: 10,000 runs of three jobs with metrics
(tests/support/report_history.py: a nightly training job with three metrics, an hourly
evaluation with one, a CPU job), over about two years. Times `report -o FILE` over all of
them and over the default 30 days, as fresh processes, next to `history --limit 50` (the
floor: Python, Typer, the database opened); then, in process, gathering the runs and
drawing the page apart, and the page's size.

    .venv/bin/python bench/report_cost.py [--runs 9]

Cases run round by round, so load elsewhere spreads over all of them.
Not a test: it prints numbers, it asserts nothing.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpuagent.commands.report import gather_report  # noqa: E402
from gpuagent.core.paths import resolve_paths  # noqa: E402
from gpuagent.views.htmlreport import report_page  # noqa: E402
from tests.support.agent import AgentHome  # noqa: E402
from tests.support.report_history import JOBS, write_history  # noqa: E402

RUNS_PER_JOB = {"nightly": 700, "eval-hourly": 7000, "preprocess": 2300}  # 10,000; the nightly's go back 700 days
ALL = "800d"


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        home = AgentHome(root / "agent")
        for job in JOBS:
            home.write_job(job, "pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime", ["python", f"{job}.py"], gpus=0 if job == "preprocess" else 1)
        written = write_history(home.root / "state" / "history.db", RUNS_PER_JOB, time.time())
        page = root / "report.html"
        cases = {
            f"report --since {ALL} -o FILE ({written:,} runs)": home.command("report", "--since", ALL, "-o", str(page)),
            "report -o FILE (the default 30 days)": home.command("report", "-o", str(page)),
            "history --limit 50 (the floor)": home.command("history", "--limit", "50"),
        }
        for command in cases.values():
            timed(command, home.env)  # .pyc files, page cache
        samples: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(args.runs):
            for label, command in cases.items():
                samples[label].append(timed(command, home.env))
        print(f"{written:,} runs of {len(JOBS)} jobs, medians of {args.runs} fresh processes:")
        for label, times in samples.items():
            print(f"  {label:52} median {statistics.median(times) * 1e3:7.0f} ms   min {min(times) * 1e3:7.0f} ms")
        in_process(resolve_paths(user_mode=False, env=home.env), args.runs)


def in_process(paths, runs: int) -> None:
    """Gathering (job files, timers, the period's runs) and drawing, each on its own."""
    since = datetime.now().astimezone() - timedelta(days=int(ALL.removesuffix("d")))
    gathering, drawing = [], []
    for _ in range(runs):
        started = time.perf_counter()
        report = gather_report(paths, None, since)
        gathered = time.perf_counter()
        page = report_page(report)
        drawing.append(time.perf_counter() - gathered)
        gathering.append(gathered - started)
    print(f"in process, --since {ALL}:")
    print(f"  gathering the runs (SQLite, records)                 median {statistics.median(gathering) * 1e3:7.0f} ms")
    print(f"  drawing the page (HTML, SVG)                         median {statistics.median(drawing) * 1e3:7.0f} ms")
    print(f"  the page: {len(page.encode()) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
