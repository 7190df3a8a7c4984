import sqlite3
import threading

from gpuagent.host.historydb import MIGRATIONS, HistoryStore
from gpuagent.host.spool import spool_path
from gpuagent.host.sqlitedb import open_for_writing, open_read_only
from gpuagent.runs.record import RunRecord


def record(run_id: str, job: str = "nightly", **fields) -> RunRecord:
    base = dict(
        run_id=run_id,
        job=job,
        invocation_id=None,
        agent_pid=1,
        started_at=float(fields.pop("started_at", 1.0)),
        ended_at=None,
        status="running",
        exit_code=None,
        reason=None,
        gpu_uuids=(),
        image=None,
        container_id=None,
    )
    return RunRecord(**{**base, **fields})


def test_a_run_is_recorded_at_start_and_completed_at_end(tmp_path):
    with HistoryStore(tmp_path / "history.db") as store:
        store.save(record("r1", invocation_id="inv-1", agent_pid=4242))
        running = store.get("r1")
        assert running.status == "running" and running.ended_at is None
        store.save(record("r1", invocation_id="inv-1", agent_pid=4242, image="img:1", gpu_uuids=("GPU-a", "GPU-b"), container_id="c0ffee"))
        store.save(
            record(
                "r1",
                invocation_id="inv-1",
                agent_pid=4242,
                image="img:1",
                gpu_uuids=("GPU-a", "GPU-b"),
                container_id="c0ffee",
                status="failed",
                exit_code=3,
                reason="exit 3",
                ended_at=5.0,
            )
        )
        run = store.get("r1")
    assert (run.status, run.exit_code, run.reason) == ("failed", 3, "exit 3")
    assert run.gpu_uuids == ("GPU-a", "GPU-b")
    assert (run.image, run.container_id, run.invocation_id, run.agent_pid) == ("img:1", "c0ffee", "inv-1", 4242)
    assert run.duration is not None and run.duration >= 0


def test_runs_are_newest_first_and_filtered_by_job(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        for number, job in enumerate(["a", "b", "a", "a"]):
            store.save(record(f"r{number}", job, started_at=number))
        assert [run.run_id for run in store.runs("a")] == ["r3", "r2", "r0"]
        assert [run.run_id for run in store.runs(None, limit=2)] == ["r3", "r2"]


def test_schema_version_and_wal(tmp_path):
    HistoryStore(tmp_path / "h.db").close()
    db = sqlite3.connect(tmp_path / "h.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_two_agents_creating_the_database_at_once_both_succeed(tmp_path):
    errors = []

    def open_store():
        try:
            HistoryStore(tmp_path / "h.db").close()
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_new_database_appears_only_with_its_tables(tmp_path):
    """A view or a dispatcher that finds the file can read its tables, even while the
    process creating it is still building its schema (here a slow first migration): the
    file SQLite creates at its first statement, tables not yet committed, was an error
    ("no such table") to a reader at that moment."""
    path = tmp_path / "slow.db"
    rows = 300_000
    numbers = f"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {rows}) SELECT n FROM c"
    slow = [f"CREATE TABLE runs (n INTEGER); INSERT INTO runs {numbers}"]
    writer = threading.Thread(target=lambda: open_for_writing(path, slow).close())
    writer.start()
    counts = []

    def read() -> None:
        if path.exists():
            db = open_read_only(path, "runs", "test")
            counts.append(db.execute("SELECT count(*) FROM runs").fetchone()[0])
            db.close()

    while writer.is_alive():
        read()
    writer.join()
    read()
    assert set(counts) == {rows}
    assert not [entry.name for entry in tmp_path.iterdir() if entry.name.startswith(".")], "the draft it was built under is gone"


def test_an_older_database_is_migrated_and_keeps_its_runs(tmp_path):
    path = tmp_path / "h.db"
    db = sqlite3.connect(path)
    for statement in filter(str.strip, MIGRATIONS[0].split(";")):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO runs (run_id, job, started_at, status) VALUES ('old', 'nightly', 1.0, 'succeeded')")
    db.commit()
    db.close()

    with HistoryStore(path) as store:
        [run] = store.runs("nightly")
    assert (run.run_id, run.status, run.attempt, run.peak_vram_bytes) == ("old", "succeeded", 1, None)


def test_running_rows_of_a_job_are_marked_lost(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        store.save(record("a"))
        store.save(record("b", status="succeeded"))
        store.save(record("c", job="other"))
        assert store.mark_lost("nightly", "agent died") == ["a"]
        assert (store.get("a").status, store.get("a").reason) == ("lost", "agent died")
        assert store.get("a").ended_at is not None
        assert store.get("b").status == "succeeded" and store.get("c").status == "running"


def test_spooled_runs_are_added_when_the_store_next_opens(tmp_path):
    import dataclasses
    import json

    database = tmp_path / "h.db"
    HistoryStore(database).close()
    spool_path(database).write_text(json.dumps(dataclasses.asdict(record("late", status="failed", gpu_uuids=("GPU-a",)))) + "\n")
    with HistoryStore(database) as store:
        late = store.get("late")
    assert (late.status, late.gpu_uuids) == ("failed", ("GPU-a",))
    assert not spool_path(database).exists()
