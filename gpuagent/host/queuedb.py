"""The queue: one SQLite row per submitted run, from its submit to its end, in the state
directory, so waiting runs outlive a reboot.

An entry is `waiting` until a dispatcher starts its unit (`starting`, with the GPUs it
was given), `running` once its agent has it, and leaves the table when its run's record
is final (history keeps the rest). Submitters and dispatchers write in transactions
(BEGIN IMMEDIATE): ten submitting at once lose no entry and double none, and a dedupe
key is unique among the entries by the database's own index.
"""

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.host.sqlitedb import open_for_writing, open_read_only
from gpuagent.queue.entry import EntryState, QueueEntry

MIGRATIONS = [
    """
    CREATE TABLE entries (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        id            TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        submitter     TEXT NOT NULL,
        submitted_at  REAL NOT NULL,
        order_at      REAL NOT NULL,
        priority      INTEGER NOT NULL,
        settings      TEXT NOT NULL,
        gpus          INTEGER NOT NULL,
        gpu_ids       TEXT NOT NULL DEFAULT '',
        min_free_vram TEXT,
        max_gpu_util  INTEGER,
        exclusive     INTEGER NOT NULL DEFAULT 0,
        learn_from    TEXT NOT NULL DEFAULT '',
        dedupe_key    TEXT,
        group_id      TEXT,
        params        TEXT,
        state         TEXT NOT NULL,
        state_at      REAL NOT NULL,
        gpu_uuids     TEXT NOT NULL DEFAULT '',
        agent_pid     INTEGER
    );
    CREATE UNIQUE INDEX entries_by_dedupe ON entries (dedupe_key) WHERE dedupe_key IS NOT NULL;
    CREATE INDEX entries_by_group ON entries (group_id);
    """,
    # A scheduled job's run waiting for GPU memory in its own agent takes its place too.
    """
    ALTER TABLE entries ADD COLUMN scheduled INTEGER NOT NULL DEFAULT 0;
    """,
    # Preemption (queue/preemption.py): who may preempt, and who was preempted when.
    """
    ALTER TABLE entries ADD COLUMN preempt INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE entries ADD COLUMN preempted_at REAL;
    ALTER TABLE entries ADD COLUMN preemptions INTEGER NOT NULL DEFAULT 0;
    """,
]

# An entry's columns are its record's fields.
_COLUMNS = tuple(field.name for field in dataclasses.fields(QueueEntry))


class QueueStore:
    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        if read_only:
            self._db = open_read_only(path, "entries", "queue")
            return
        self._db = open_for_writing(path, MIGRATIONS)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "QueueStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All the block's writes or none, other writers kept out meanwhile."""
        self._db.execute("BEGIN IMMEDIATE")
        with self._db:  # commits, or rolls back on an exception
            yield

    def add(self, entries: Iterable[QueueEntry]) -> None:
        """Queue all of `entries` or none: InvalidInput naming the run that holds a dedupe
        key one of them gives."""
        with self.transaction():
            for entry in entries:
                if entry.dedupe_key is not None:
                    holder = self._db.execute("SELECT id, name, state FROM entries WHERE dedupe_key = ?", (entry.dedupe_key,)).fetchone()
                    if holder is not None:
                        raise InvalidInput(
                            f"--dedupe {entry.dedupe_key}: run {holder['id']} ({holder['name']}) holds that key, {holder['state']}",
                            f"wait for it to end, or `gpuagent cancel {holder['id']}`",
                        )
                values = _row(entry)
                self._db.execute(f"INSERT INTO entries ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})", tuple(values.values()))

    def entries(self) -> list[QueueEntry]:
        """Every entry, in the order of submission."""
        return [_entry(row) for row in self._db.execute("SELECT * FROM entries ORDER BY seq")]

    def get(self, entry_id: str) -> QueueEntry | None:
        row = self._db.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return None if row is None else _entry(row)

    def group(self, group_id: str) -> list[QueueEntry]:
        return [_entry(row) for row in self._db.execute("SELECT * FROM entries WHERE group_id = ? ORDER BY seq", (group_id,))]

    def set_state(self, entry_id: str, state: EntryState, *, gpu_uuids: tuple[str, ...] = (), agent_pid: int | None = None) -> bool:
        """Whether the entry was there to change."""
        changed = self._db.execute(
            "UPDATE entries SET state = ?, state_at = ?, gpu_uuids = ?, agent_pid = ? WHERE id = ?",
            (state, time.time(), ",".join(gpu_uuids), agent_pid, entry_id),
        )
        return changed.rowcount > 0

    def requeue(self, entry_id: str, *, first: bool = False) -> None:
        """Back to waiting, in its place (or, `first`, ahead of its priority's others)."""
        order = ", order_at = (SELECT coalesce(min(order_at), 0) - 1 FROM entries)" if first else ""
        self._db.execute(
            f"UPDATE entries SET state = ?, state_at = ?, gpu_uuids = '', agent_pid = NULL{order} WHERE id = ?",
            (EntryState.WAITING, time.time(), entry_id),
        )

    def mark_preempted(self, entry_id: str) -> None:
        """Its agent, stopped next, records it `preempted` and puts it back (queue/agent.py)."""
        self._db.execute("UPDATE entries SET preempted_at = ? WHERE id = ?", (time.time(), entry_id))

    def requeue_preempted(self, entry_id: str) -> None:
        """Back to waiting at the head of its priority, one preemption more."""
        with self.transaction():
            self.requeue(entry_id, first=True)
            self._db.execute("UPDATE entries SET preemptions = preemptions + 1 WHERE id = ?", (entry_id,))

    def remove(self, entry_id: str) -> bool:
        """Whether it was there."""
        return self._db.execute("DELETE FROM entries WHERE id = ?", (entry_id,)).rowcount > 0


def existing_queue(paths: Paths) -> QueueStore | None:
    """The queue, read-only, or None where nothing was ever submitted: the views create nothing."""
    if not paths.queue_db.exists():
        return None
    try:
        return QueueStore(paths.queue_db, read_only=True)
    except sqlite3.Error:
        return None


def _row(entry: QueueEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "name": entry.name,
        "submitter": entry.submitter,
        "submitted_at": entry.submitted_at,
        "order_at": entry.order_at,
        "priority": entry.priority,
        "settings": json.dumps(entry.settings),
        "gpus": entry.gpus,
        "gpu_ids": ",".join(entry.gpu_ids),
        "min_free_vram": None if entry.min_free_vram is None else str(entry.min_free_vram),
        "max_gpu_util": entry.max_gpu_util,
        "exclusive": int(entry.exclusive),
        "learn_from": ",".join(entry.learn_from),
        "dedupe_key": entry.dedupe_key,
        "group_id": entry.group_id,
        "params": None if entry.params is None else json.dumps(entry.params),
        "state": entry.state,
        "state_at": entry.state_at,
        "gpu_uuids": ",".join(entry.gpu_uuids),
        "agent_pid": entry.agent_pid,
        "scheduled": int(entry.scheduled),
        "preempt": int(entry.preempt),
        "preempted_at": entry.preempted_at,
        "preemptions": entry.preemptions,
    }


def _entry(row: sqlite3.Row) -> QueueEntry:
    # A view reads an older database as it is (only a writer migrates): the columns it
    # lacks take their record's defaults.
    present = set(row.keys())
    values = {column: row[column] for column in _COLUMNS if column in present}
    for column in ("gpu_ids", "learn_from", "gpu_uuids"):
        values[column] = tuple(filter(None, values[column].split(",")))
    vram = values["min_free_vram"]
    values["min_free_vram"] = None if vram is None else vram if not vram.isdigit() else int(vram)
    values["settings"] = json.loads(values["settings"])
    values["params"] = None if values["params"] is None else json.loads(values["params"])
    values["exclusive"] = bool(values["exclusive"])
    for flag in ("scheduled", "preempt"):
        if flag in values:
            values[flag] = bool(values[flag])
    values["state"] = EntryState(values["state"])
    return QueueEntry(**values)
