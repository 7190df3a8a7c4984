"""Opening gpuagent's SQLite databases (the run history, the queue): for writing, with
their schema brought up to date; or read-only, for the views.

A schema's version lives in PRAGMA user_version; migrations[i] upgrades version i to i + 1.
"""

import contextlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from gpuagent.core.errors import GpuAgentError

# How long a write waits for another writer before it fails; the runner retries a failed
# record for longer (runs/recorder.py), so this only bounds one attempt.
BUSY_TIMEOUT_MS = 5000

# What a read-only connection to a WAL database gets when it may not create the -shm file.
_CANNOT_SHARE = (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN)


def open_for_writing(path: Path, migrations: Sequence[str]) -> sqlite3.Connection:
    """WAL mode, so the views read while a run writes; autocommit, so each caller says
    where its transactions are; the schema brought up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path, migrations)
    db = _connected_for_writing(path)
    migrate(db, migrations)
    return db


def _create(path: Path, migrations: Sequence[str]) -> None:
    """A new database appears at `path` with its schema: built under a name of its own,
    then linked into place. A reader that finds the file finds its tables (a file SQLite
    had just created, its tables not yet committed, was an error to a view or a
    dispatcher reading at that moment). Of two processes creating it at once, the first
    link wins and the other's draft goes."""
    draft = path.with_name(f".{path.name}.{os.urandom(6).hex()}.new")  # SQLite creates it, as it would `path`
    try:
        db = _connected_for_writing(draft)
        try:
            migrate(db, migrations)
        finally:
            db.close()  # the last connection: its WAL goes into the file
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def _connected_for_writing(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last
    # commits: one fsync per checkpoint, not per write.
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def migrate(db: sqlite3.Connection, migrations: Sequence[str]) -> None:
    """Apply the migrations the database lacks. One migration per transaction, the version
    read inside it: two processes opening a new database together cannot both apply the
    same step. executescript() would commit by itself, so statements run one by one."""
    while True:
        db.execute("BEGIN IMMEDIATE")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(migrations):
            db.execute("COMMIT")
            return
        for statement in filter(str.strip, migrations[version].split(";")):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {version + 1}")
        db.execute("COMMIT")


def open_read_only(path: Path, table: str, what: str) -> sqlite3.Connection:
    """A connection that never writes, to the `what` database whose `table` it reads. A WAL
    database normally needs its -shm file, which SQLite creates (it cannot in a directory
    the reader may not write) and removes when the last writer closes. Where it cannot,
    and there is no -wal file (so every commit is in the database file), the file is read
    as it is (`immutable`)."""
    try:
        return _opened(path, "mode=ro", table)
    except sqlite3.Error as err:
        if (err.sqlite_errorcode or 0) & 0xFF not in _CANNOT_SHARE or path.with_name(f"{path.name}-wal").exists():
            raise _unreadable(path, err, what) from err
    try:
        return _opened(path, "mode=ro&immutable=1", table)
    except sqlite3.Error as err:
        raise _unreadable(path, err, what) from err


def _opened(path: Path, query: str, table: str) -> sqlite3.Connection:
    """Connected, and read once: SQLite opens the file and its WAL index lazily."""
    db = sqlite3.connect(f"{path.absolute().as_uri()}?{query}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()
    except sqlite3.Error:
        db.close()
        raise
    return db


def _unreadable(path: Path, err: sqlite3.Error, what: str) -> GpuAgentError:
    return GpuAgentError(
        f"cannot read the {what} database {path}: {err}",
        hint="run it as the user that runs the jobs (sudo for system jobs), or get read access to that file and its directory",
    )
