"""The unrecorded-runs spool replayed into a real SQLite database: a line that cannot be
read back is set aside, the others are added, nothing is lost."""

import dataclasses
import json
import sqlite3

import pytest

from gpuagent.host.historydb import HistoryStore
from gpuagent.host.spool import rejected_path, spool_path
from tests.unit.test_history_store import record


def line(name: str, **changes) -> bytes:
    fields = {**dataclasses.asdict(record(name, status="failed")), **changes}
    return json.dumps(fields).encode() + b"\n"


BAD_LINES = [
    line("cut")[:40] + b"\n",  # a disk-full append, cut short
    line("newer", future_field=1),  # written by a gpuagent that knows more fields
    b'{"run_id": "short", "job": "nightly"}\n',  # fields missing
    line("nameless", run_id=None),  # history cannot store a run without its id
    b"[1, 2]\n",
    b"\xff\xfe not text\n",
]


def test_unreadable_lines_are_set_aside_and_the_others_replayed(tmp_path):
    database = tmp_path / "history.db"
    HistoryStore(database).close()
    unterminated = line("cut")[:40]
    spool_path(database).write_bytes(line("before") + b"".join(BAD_LINES) + line("after") + unterminated)

    with HistoryStore(database) as store:
        assert {run.run_id for run in store.runs()} == {"before", "after"}

    assert not spool_path(database).exists()
    assert rejected_path(database).read_bytes() == b"".join(BAD_LINES) + unterminated + b"\n"
    assert list(tmp_path.glob("unrecorded.jsonl.*")) == []


def test_lines_set_aside_are_kept_across_replays(tmp_path):
    database = tmp_path / "history.db"
    for bad in BAD_LINES[:2]:
        spool_path(database).write_bytes(bad)
        HistoryStore(database).close()
    assert rejected_path(database).read_bytes() == b"".join(BAD_LINES[:2])


def test_a_replay_the_database_refuses_leaves_the_runs_in_the_spool(tmp_path):
    database = tmp_path / "history.db"
    HistoryStore(database).close()
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    spool_path(database).write_bytes(line("first") + line("second"))

    with pytest.raises(sqlite3.Error, match="disk is full"):
        HistoryStore(database)

    assert spool_path(database).read_bytes() == line("first") + line("second")
    assert list(tmp_path.glob("unrecorded.jsonl.*")) == []
    db.execute("DROP TRIGGER refuse")
    with HistoryStore(database) as store:
        assert {run.run_id for run in store.runs()} == {"first", "second"}
    assert not spool_path(database).exists()
