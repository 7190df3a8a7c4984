"""The run history: one SQLite row per run, written when the run starts and completed
when it ends, so a run whose agent died still leaves a trace.

WAL mode lets `gpuagent history` read while a run writes. The schema version lives in
PRAGMA user_version; MIGRATIONS[i] upgrades version i to i + 1.
"""

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

MIGRATIONS = [
    """
    CREATE TABLE runs (
        run_id        TEXT PRIMARY KEY,
        job           TEXT NOT NULL,
        invocation_id TEXT,
        agent_pid     INTEGER,
        started_at    REAL NOT NULL,
        ended_at      REAL,
        status        TEXT NOT NULL,
        exit_code     INTEGER,
        reason        TEXT,
        gpu_uuids     TEXT NOT NULL DEFAULT '',
        image         TEXT,
        container_id  TEXT
    );
    CREATE INDEX runs_by_job ON runs (job, started_at DESC);
    CREATE INDEX runs_by_start ON runs (started_at DESC);
    """,
    # Retries, the log tail of runs that did not succeed, the run's own GPU use, and what
    # it takes to reproduce it (image digest, job file hash).
    """
    ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE runs ADD COLUMN first_run_id TEXT;
    ALTER TABLE runs ADD COLUMN log_tail TEXT;
    ALTER TABLE runs ADD COLUMN peak_vram_bytes INTEGER;
    ALTER TABLE runs ADD COLUMN mean_vram_bytes INTEGER;
    ALTER TABLE runs ADD COLUMN mean_gpu_util REAL;
    ALTER TABLE runs ADD COLUMN gpu_names TEXT;
    ALTER TABLE runs ADD COLUMN driver_version TEXT;
    ALTER TABLE runs ADD COLUMN image_digest TEXT;
    ALTER TABLE runs ADD COLUMN job_hash TEXT;
    CREATE INDEX runs_by_status ON runs (status, started_at DESC);
    """,
]

RUNNING = "running"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    job: str
    invocation_id: str | None
    agent_pid: int | None
    started_at: float
    ended_at: float | None
    status: str
    exit_code: int | None
    reason: str | None
    gpu_uuids: tuple[str, ...]
    image: str | None
    container_id: str | None
    attempt: int = 1
    first_run_id: str | None = None
    log_tail: str | None = None
    peak_vram_bytes: int | None = None
    mean_vram_bytes: int | None = None
    mean_gpu_util: float | None = None
    gpu_names: str | None = None
    driver_version: str | None = None
    image_digest: str | None = None
    job_hash: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


class HistoryStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    def _migrate(self) -> None:
        # One migration per transaction, the version read inside it: two agents opening
        # a new database together cannot both apply the same step. executescript()
        # would commit by itself, so statements run one by one.
        while True:
            self._db.execute("BEGIN IMMEDIATE")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(MIGRATIONS):
                self._db.execute("COMMIT")
                return
            for statement in filter(str.strip, MIGRATIONS[version].split(";")):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {version + 1}")
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start_run(self, run_id: str, job: str, invocation_id: str | None, agent_pid: int, image: str | None) -> None:
        self._db.execute(
            "INSERT INTO runs (run_id, job, invocation_id, agent_pid, started_at, status, image)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, job, invocation_id, agent_pid, time.time(), RUNNING, image),
        )

    def update_run(self, run_id: str, **fields) -> None:
        """Set columns of a run that is under way (gpu_uuids, image, container_id)."""
        if "gpu_uuids" in fields:
            fields["gpu_uuids"] = ",".join(fields["gpu_uuids"])
        columns = ", ".join(f"{column} = ?" for column in fields)
        self._db.execute(f"UPDATE runs SET {columns} WHERE run_id = ?", (*fields.values(), run_id))

    def finish_run(self, run_id: str, status: str, exit_code: int | None, reason: str | None) -> None:
        self._db.execute(
            "UPDATE runs SET ended_at = ?, status = ?, exit_code = ?, reason = ? WHERE run_id = ?",
            (time.time(), status, exit_code, reason, run_id),
        )

    def runs(self, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first."""
        if job is None:
            rows = self._db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
        else:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE job = ? ORDER BY started_at DESC LIMIT ?", (job, limit)
            )
        return [_record(row) for row in rows]

    def get(self, run_id: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _record(row)


def _record(row: sqlite3.Row) -> RunRecord:
    values = dict(row)
    values["gpu_uuids"] = tuple(filter(None, values["gpu_uuids"].split(",")))
    return RunRecord(**values)
