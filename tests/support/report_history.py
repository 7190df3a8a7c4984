"""A history that looks like a real server's, for the report's tests, its screenshot and
its benchmark: a nightly training job whose loss falls and which sometimes runs out of GPU
memory, an hourly evaluation, a CPU preprocessing job that fails now and then; deterministic."""

import random
from collections.abc import Iterator
from pathlib import Path

from gpuagent.host.historydb import HistoryStore
from gpuagent.runs.record import RunRecord
from tests.support.records import run_record

GiB = 1024**3
HOUR = 3600.0

# job: (hours between runs, GPU memory it peaks at, the metrics it reports)
JOBS = {
    "nightly": (24.0, 38 * GiB, ("val_loss", "train_loss", "accuracy")),
    "eval-hourly": (1.0, 9 * GiB, ("eval_accuracy",)),
    "preprocess": (6.0, None, ()),
}
FAILURES = [
    ("cuda-oom", 1, "exit 1: CUDA out of memory (see the log tail)"),
    ("failed", 2, "exit 2"),
    ("timed-out", None, "ran past --timeout 6h"),
    ("skipped-vram", None, "no GPU with 20GiB free (best: GPU 0 with 11.2GiB)"),
    ("error", None, "image gpuagent-test/busybox:latest is not on this host"),
]


def realistic_runs(job: str, count: int, end: float, seed: int = 7) -> Iterator[RunRecord]:
    """`count` runs of one of JOBS, the last started before `end` (epoch seconds), oldest first."""
    every, peak, metrics = JOBS[job]
    rng = random.Random(f"{seed}-{job}")
    for number in range(count):
        started = end - (count - number) * every * HOUR + rng.uniform(0, 120)
        progress = number / max(count - 1, 1)
        if rng.random() < 0.12:
            status, exit_code, reason = rng.choice(FAILURES)
            took = 1.0 if status.startswith("skipped") else rng.uniform(30, 900)
            yield run_record(
                f"{job[:3]}{number:06d}", job, status, started, took, exit_code=exit_code, reason=reason, peak_vram_bytes=peak and int(peak * 1.02)
            )
            continue
        took = every * HOUR * 0.2 * rng.uniform(0.8, 1.2) + 60
        values = {
            "val_loss": 2.4 * (1 - progress) ** 2 + 0.21 + rng.uniform(-0.04, 0.04),
            "train_loss": 2.2 * (1 - progress) ** 2 + 0.15 + rng.uniform(-0.03, 0.03),
            "accuracy": 0.55 + 0.4 * progress + rng.uniform(-0.02, 0.02),
            "eval_accuracy": 0.7 + 0.2 * progress + rng.uniform(-0.03, 0.03),
        }
        yield run_record(
            f"{job[:3]}{number:06d}",
            job,
            "succeeded",
            started,
            took,
            peak_vram_bytes=peak and int(peak * rng.uniform(0.85, 1.0)),
            metrics={name: round(values[name], 4) for name in metrics} or None,
        )


def write_history(database: Path, runs_per_job: dict[str, int], end: float) -> int:
    """Record `runs_per_job` realistic runs of each job; how many in all."""
    written = 0
    with HistoryStore(database) as store:
        for job, count in runs_per_job.items():
            for run in realistic_runs(job, count, end):
                store.save(run)
                written += 1
    return written
