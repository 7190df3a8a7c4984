"""History rows for tests, written through the real HistoryStore."""

from pathlib import Path

from gpuagent.host.historydb import HistoryStore
from gpuagent.runs.record import RunRecord

# 2026-03-01 02:00:00 UTC: a fixed moment, so rendered times are the same on every run.
T0 = 1772330400.0


def run_record(run_id: str, job: str, status: str, started_at: float, took: float | None = 90.0, **fields) -> RunRecord:
    values = dict(
        run_id=run_id,
        job=job,
        invocation_id=None,
        agent_pid=4242,
        started_at=started_at,
        ended_at=None if took is None else started_at + took,
        status=status,
        exit_code=None if took is None else 0 if status == "succeeded" else 1,
        reason=None if took is None else "exit 0" if status == "succeeded" else "exit 1",
        gpu_uuids=(),
        image="gpuagent-test/busybox:latest",
        container_id=None,
    )
    return RunRecord(**{**values, **fields})


def record(database: Path, *runs: RunRecord) -> None:
    with HistoryStore(database) as store:
        for run in runs:
            store.save(run)
