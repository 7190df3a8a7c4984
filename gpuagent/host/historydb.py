"""The run history: one SQLite row per run, written when the run starts and completed
when it ends, so a run whose agent died still leaves a trace.

WAL mode lets `gpuagent history` read while a run writes. The schema version lives in
PRAGMA user_version; MIGRATIONS[i] upgrades version i to i + 1.
"""

import contextlib
import dataclasses
import json
import sqlite3
import time
from collections.abc import Collection, Iterator
from pathlib import Path

from gpuagent.core.errors import NotFound
from gpuagent.core.paths import Paths
from gpuagent.host.boots import Boot, current_boot
from gpuagent.host.spool import taken_runs
from gpuagent.host.sqlitedb import open_for_writing, open_read_only
from gpuagent.observe.notifications import Notification
from gpuagent.runs.record import SKIPPED, RunRecord, Status
from gpuagent.runs.runmetrics import MetricPoint, metric_points

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
    # `history NAME --status S`: one job's runs of one status, newest first, without
    # reading through the job's other runs.
    """
    CREATE INDEX runs_by_job_status ON runs (job, status, started_at DESC);
    """,
    # Notifications and pings sent about runs, and whether they arrived (observe/announce.py).
    # run_id is null for the /start ping, sent before any attempt has a record.
    """
    CREATE TABLE notifications (
        id        INTEGER PRIMARY KEY,
        run_id    TEXT,
        job       TEXT NOT NULL,
        channel   TEXT NOT NULL,
        event     TEXT NOT NULL,
        sent_at   REAL NOT NULL,
        delivered INTEGER NOT NULL,
        detail    TEXT
    );
    CREATE INDEX notifications_by_job ON notifications (job, sent_at DESC);
    CREATE INDEX notifications_by_run ON notifications (run_id);
    """,
    # What a run reported it learned (a JSON object of numbers), and the run of another
    # job whose success started it: runs_by_upstream finds the runs a run started.
    """
    ALTER TABLE runs ADD COLUMN metrics TEXT;
    ALTER TABLE runs ADD COLUMN metrics_problem TEXT;
    ALTER TABLE runs ADD COLUMN upstream_run_id TEXT;
    CREATE INDEX runs_by_upstream ON runs (upstream_run_id);
    """,
    # Runs submitted to the queue: who submitted them, their sweep and its values, and
    # the GPU memory admission asked for and where that number came from (queue/).
    """
    ALTER TABLE runs ADD COLUMN submitter TEXT;
    ALTER TABLE runs ADD COLUMN group_id TEXT;
    ALTER TABLE runs ADD COLUMN params TEXT;
    ALTER TABLE runs ADD COLUMN vram_need INTEGER;
    ALTER TABLE runs ADD COLUMN vram_need_source TEXT;
    CREATE INDEX runs_by_group ON runs (group_id, started_at);
    """,
    # The boot each row was last written in (host/boots.py): at boot, a row still
    # `running` from an earlier one is a run that went down with the host. And whether
    # the timer fired the run late, for a fire missed while the host was down.
    """
    ALTER TABLE runs ADD COLUMN boot_id TEXT;
    ALTER TABLE runs ADD COLUMN catch_up INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
    """,
]

# What a store that cannot be opened or written raises: the database locked or corrupt,
# the disk full, the directory gone. The recorder retries and spools on these.
STORE_ERRORS = (sqlite3.Error, OSError)


class HistoryStore:
    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only` for the views: nothing is written (no migration, no spool replay,
        no journal mode), so anyone who can read the files can use them. Only a run and
        a reap open it for writing."""
        self._notifications_table: bool | None = None  # whether it has one: see _has_notifications
        self._run_columns: frozenset[str] | None = None  # see _has_column
        if read_only:
            self._db = open_read_only(path, "runs", "history")
            return
        self._db = open_for_writing(path, MIGRATIONS)
        self._replay_spool(path)

    def _replay_spool(self, path: Path) -> None:
        """Add the runs an agent could not record earlier (recorder.py), all or none."""
        with taken_runs(path) as runs:
            if runs:
                self._db.execute("BEGIN IMMEDIATE")
                with self._db:  # commits, or rolls back if a save fails
                    for run in runs:
                        self.save(run)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def save(self, run: RunRecord) -> None:
        """Insert the run, or overwrite every column of it: a write that failed can be
        made again later with the run's latest state."""
        values = dataclasses.asdict(run)
        values["boot_id"] = current_boot().id
        values["gpu_uuids"] = ",".join(run.gpu_uuids)
        values["metrics"] = None if run.metrics is None else json.dumps(run.metrics)
        values["params"] = None if run.params is None else json.dumps(run.params)
        columns = ", ".join(values)
        updates = ", ".join(f"{column} = excluded.{column}" for column in values if column != "run_id")
        self._db.execute(
            f"INSERT INTO runs ({columns}) VALUES ({', '.join('?' * len(values))}) ON CONFLICT (run_id) DO UPDATE SET {updates}",
            tuple(values.values()),
        )

    def mark_lost(self, job: str, reason: str) -> list[str]:
        """Close the job's runs still marked running: called under the job's lock, so no
        live agent owns them. Returns their run ids."""
        rows = self._db.execute("SELECT run_id FROM runs WHERE job = ? AND status = ?", (job, Status.RUNNING)).fetchall()
        self._db.execute(
            "UPDATE runs SET status = ?, reason = ?, ended_at = ? WHERE job = ? AND status = ?",
            (Status.LOST, reason, time.time(), job, Status.RUNNING),
        )
        return [row[0] for row in rows]

    def lose_earlier_boots(self, boot: Boot, reason: str) -> list[RunRecord]:
        """Close the runs still marked running that an earlier boot than `boot` wrote (a
        row from before the boot_id column counts when it started before `boot` did):
        their agents went down with the host. Returns them as closed now; a run closed
        already (by another pass, or the queue's dispatcher) is not returned again."""
        self._db.execute("BEGIN IMMEDIATE")
        with self._db:  # commits, or rolls back
            rows = self._db.execute(
                "SELECT * FROM runs WHERE status = ? AND (boot_id != ? OR (boot_id IS NULL AND started_at < ?)) ORDER BY started_at",
                (Status.RUNNING, boot.id, boot.started_at),
            ).fetchall()
            now = time.time()
            lost = [dataclasses.replace(_record(row), status=Status.LOST, reason=reason, ended_at=now) for row in rows]
            self._db.executemany(
                "UPDATE runs SET status = ?, reason = ?, ended_at = ? WHERE run_id = ? AND status = ?",
                [(run.status, run.reason, run.ended_at, run.run_id, Status.RUNNING) for run in lost],
            )
        return lost

    def runs(self, job: str | None = None, limit: int = 50, *, status: str | None = None, since: float | None = None) -> list[RunRecord]:
        """Newest first: the last `limit` runs, of `job` only, with `status` only, started
        at or after `since` (epoch seconds) only, as given."""
        return [_record(row) for row in self._db.execute(*runs_query(job, limit, status=status, since=since))]

    def runs_in_period(self, job: str, since: float) -> list[RunRecord]:
        """The job's runs started at or after `since` (epoch seconds), oldest first: what a
        report draws. runs_by_job reads them in order, whatever the rest of history holds."""
        return [_record(row) for row in self._db.execute(*period_query(job, since))]

    def status_counts(self, job: str) -> dict[str, int]:
        """How many of the job's runs ended (or are) in each status (runs_by_job_status covers it)."""
        return dict(self._db.execute("SELECT status, count(*) FROM runs WHERE job = ? GROUP BY status", (job,)).fetchall())

    def kind_status_counts(self, kind: str) -> dict[str, int]:
        """How many runs named `KIND/...` (runs/record.py) ended (or are) in each status."""
        rows = self._db.execute("SELECT status, count(*) FROM runs WHERE job >= ? AND job < ? GROUP BY status", (f"{kind}/", f"{kind}0"))
        return dict(rows.fetchall())

    def count_since(self, job: str, statuses: Collection[str], after: float | None) -> int:
        """The job's runs in `statuses` started after `after` (epoch seconds; None: ever)."""
        marks = ", ".join("?" * len(statuses))
        query = f"SELECT count(*) FROM runs WHERE job = ? AND status IN ({marks}) AND started_at > ?"
        return self._db.execute(query, (job, *statuses, float("-inf") if after is None else after)).fetchone()[0]

    def get(self, run_id: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _record(row)

    def previous_outcome(self, job: str, before: float) -> RunRecord | None:
        """The job's newest run started before `before` that ended and was no skip: what
        a success now recovers from, if it failed."""
        marks = ", ".join("?" * (len(SKIPPED) + 1))
        row = self._db.execute(
            f"SELECT * FROM runs WHERE job = ? AND started_at < ? AND status NOT IN ({marks}) ORDER BY started_at DESC LIMIT 1",
            (job, before, Status.RUNNING, *sorted(SKIPPED)),
        ).fetchone()
        return None if row is None else _record(row)

    def last_success(self, job: str, *, before: float) -> RunRecord | None:
        """The job's newest run that succeeded of those started before `before`."""
        row = self._db.execute(
            "SELECT * FROM runs WHERE job = ? AND status = ? AND started_at < ? ORDER BY started_at DESC LIMIT 1",
            (job, Status.SUCCEEDED, before),
        ).fetchone()
        return None if row is None else _record(row)

    def last_metric(self, job: str, name: str, *, before: float) -> float | None:
        """Metric `name` of the job's newest successful run started before `before` that
        reported it (`name` is a checked metric name: runs/runmetrics.py)."""
        if not self._has_column("metrics"):
            return None
        row = self._db.execute(
            "SELECT json_extract(metrics, ?) FROM runs WHERE job = ? AND status = ? AND started_at < ? "
            "AND json_extract(metrics, ?) IS NOT NULL ORDER BY started_at DESC LIMIT 1",
            (f"$.{name}", job, Status.SUCCEEDED, before, f"$.{name}"),
        ).fetchone()
        return None if row is None else float(row[0])

    def recent_peaks(self, names: Collection[str], limit: int) -> list[int]:
        """The peak GPU memory of the newest `limit` successful runs named any of `names`
        that recorded one, newest first (runs_by_job_status reads them in order)."""
        marks = ", ".join("?" * len(names))
        rows = self._db.execute(
            f"SELECT peak_vram_bytes FROM runs WHERE job IN ({marks}) AND status = ? AND peak_vram_bytes > 0 ORDER BY started_at DESC LIMIT ?",
            (*names, Status.SUCCEEDED, limit),
        )
        return [row[0] for row in rows]

    def group_runs(self, group_id: str) -> list[RunRecord]:
        """A sweep's runs, every attempt's record (retries and runs again after a
        preemption too), oldest first."""
        if not self._has_column("group_id"):
            return []
        return [_record(row) for row in self._db.execute("SELECT * FROM runs WHERE group_id = ? ORDER BY started_at", (group_id,))]

    def started_by(self, run_id: str) -> list[RunRecord]:
        """The runs of following jobs (--after) that the run's success started, oldest first."""
        if not self._has_column("upstream_run_id"):
            return []
        return [_record(row) for row in self._db.execute("SELECT * FROM runs WHERE upstream_run_id = ? ORDER BY started_at", (run_id,))]

    def lost_runs(self, job: str, invocation_id: str | None) -> list[RunRecord]:
        """The job's runs marked lost: those of one systemd invocation, or (None) the newest."""
        if invocation_id is None:
            rows = self._db.execute("SELECT * FROM runs WHERE job = ? AND status = ? ORDER BY started_at DESC LIMIT 1", (job, Status.LOST))
        else:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE job = ? AND status = ? AND invocation_id = ? ORDER BY started_at", (job, Status.LOST, invocation_id)
            )
        return [_record(row) for row in rows]

    # -- notifications -------------------------------------------------------------
    # A read-only store may be older than the notifications table (the views never
    # migrate): it has none to show then.

    def save_notification(self, notification: Notification) -> None:
        values = dataclasses.asdict(notification)
        self._db.execute(f"INSERT INTO notifications ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})", tuple(values.values()))

    def last_notification(self, job: str) -> Notification | None:
        """The newest notification or ping about the job, delivered or not."""
        if not self._has_notifications():
            return None
        row = self._db.execute(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE job = ? ORDER BY sent_at DESC, id DESC LIMIT 1", (job,)
        ).fetchone()
        return None if row is None else _notification(row)

    def has_notification(self, run_id: str) -> bool:
        """Whether anything was sent about the run."""
        if not self._has_notifications():
            return False
        return self._db.execute("SELECT 1 FROM notifications WHERE run_id = ? LIMIT 1", (run_id,)).fetchone() is not None

    def notifications_of(self, run_ids: Collection[str]) -> dict[str, list[Notification]]:
        """What was sent about each run, oldest first; a run that sent nothing is absent."""
        found: dict[str, list[Notification]] = {}
        if not self._has_notifications():
            return found
        ids = list(run_ids)
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            query = f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE run_id IN ({', '.join('?' * len(chunk))}) ORDER BY sent_at, id"
            for row in self._db.execute(query, chunk):
                found.setdefault(row["run_id"], []).append(_notification(row))
        return found

    def _has_column(self, column: str) -> bool:
        """Whether the runs table has `column`: a read-only store may be older than it."""
        if self._run_columns is None:
            self._run_columns = frozenset(row[1] for row in self._db.execute("PRAGMA table_info(runs)"))
        return column in self._run_columns

    def _has_notifications(self) -> bool:
        if self._notifications_table is None:
            query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notifications'"
            self._notifications_table = self._db.execute(query).fetchone() is not None
        return self._notifications_table


@contextlib.contextmanager
def existing_history(paths: Paths) -> Iterator[HistoryStore | None]:
    """The history store, read-only, or None where no run was ever recorded: a view
    neither creates nor writes it, so a user who may only read it can use the views."""
    if not paths.history_db.exists():
        yield None
        return
    with HistoryStore(paths.history_db, read_only=True) as store:
        yield store


def get_run(paths: Paths, run_id: str) -> RunRecord:
    """Run `run_id` from history; NotFound where history has none of that id."""
    with existing_history(paths) as store:
        run = None if store is None else store.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} in history", "see `gpuagent history` for run ids")
    return run


def metric_points_of(store: HistoryStore | None, job: str, runs: list[RunRecord], metric: str) -> list[MetricPoint]:
    """Metric `metric` of the job's `runs` (newest first), each with its change from the
    previous successful run that reported it, looked for in `store` before the oldest."""
    earlier = store.last_metric(job, metric, before=runs[-1].started_at) if store and runs else None
    return metric_points(runs, metric, earlier)


def runs_query(job: str | None, limit: int, *, status: str | None = None, since: float | None = None) -> tuple[str, tuple]:
    """The SELECT behind HistoryStore.runs, and its parameters. Every combination of
    filters has an index ending in started_at DESC (runs_by_start, runs_by_job,
    runs_by_status, runs_by_job_status), so it reads `limit` rows, however long history is."""
    clauses, params = [], []
    for column, value in (("job", job), ("status", status)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append("started_at >= ?")
        params.append(since)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT * FROM runs{where} ORDER BY started_at DESC LIMIT ?", (*params, limit)


def period_query(job: str, since: float) -> tuple[str, tuple]:
    """The SELECT behind HistoryStore.runs_in_period, and its parameters."""
    return "SELECT * FROM runs WHERE job = ? AND started_at >= ? ORDER BY started_at", (job, since)


_NOTIFICATION_COLUMNS = ", ".join(field.name for field in dataclasses.fields(Notification))
_IDS_PER_QUERY = 500  # SQLite allows 32766 parameters a statement (999 before 3.32)


def _notification(row: sqlite3.Row) -> Notification:
    values = dict(row)
    values["delivered"] = bool(values["delivered"])
    return Notification(**values)


def _record(row: sqlite3.Row) -> RunRecord:
    values = dict(row)
    values.pop("boot_id", None)  # the store's own: which boot wrote the row
    values["gpu_uuids"] = tuple(filter(None, values["gpu_uuids"].split(",")))
    if "catch_up" in values:
        values["catch_up"] = bool(values["catch_up"])
    for column in ("metrics", "params"):
        if values.get(column) is not None:
            values[column] = json.loads(values[column])
    return RunRecord(**values)
