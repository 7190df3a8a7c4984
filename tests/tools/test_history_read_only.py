"""The views read history without writing it: a really read-only database (root's files
read by uid 65534, files 0444 in a 0555 directory, or a writer holding it open) through
real SQLite, and through the CLI as that user."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gpuagent.host.historydb import MIGRATIONS, HistoryStore
from gpuagent.host.spool import spool_path
from tests.support.agent import REPO
from tests.unit.test_history_store import record

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to act as another user")


@pytest.fixture
def state_dir():
    """A directory other users can reach (pytest's tmp_path is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="gpuagent-ro-"))
    root.chmod(0o755)
    state = root / "state"
    state.mkdir()
    with HistoryStore(state / "history.db") as store:
        store.save(record("r1", status="succeeded"))
    yield state
    for path in (state, *state.iterdir()):
        path.chmod(0o755)
    shutil.rmtree(root)


def as_nobody(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*NOBODY, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=60)


def read_as_nobody(database: Path) -> subprocess.CompletedProcess:
    code = f"from gpuagent.host.historydb import HistoryStore\nfrom pathlib import Path\nwith HistoryStore(Path({str(database)!r}), read_only=True) as s: print([r.run_id for r in s.runs()])"
    return as_nobody(sys.executable, "-c", code, env={**os.environ, "PYTHONPATH": str(REPO)})


def make_read_only(state: Path) -> None:
    for path in state.iterdir():
        path.chmod(0o444)
    state.chmod(0o555)


def test_a_closed_database_in_a_read_only_directory_is_read(state_dir):
    make_read_only(state_dir)
    assert sorted(p.name for p in state_dir.iterdir()) == ["history.db"]  # no -wal, no -shm
    result = read_as_nobody(state_dir / "history.db")
    assert (result.returncode, result.stdout.strip()) == (0, "['r1']"), result.stderr


def test_a_database_a_writer_holds_open_is_read_with_its_latest_commits(state_dir):
    with HistoryStore(state_dir / "history.db") as writer:
        writer.save(record("r2", status="running", started_at=2.0))  # in the -wal file only
        assert (state_dir / "history.db-wal").exists()
        result = read_as_nobody(state_dir / "history.db")
    assert (result.returncode, result.stdout.strip()) == (0, "['r2', 'r1']"), result.stderr


def test_a_read_only_store_writes_nothing_not_even_the_spool_replay(state_dir):
    database = state_dir / "history.db"
    spool_path(database).write_text(json.dumps({"not": "replayed"}) + "\n")
    kept = (database, spool_path(database))
    before = [path.read_bytes() for path in kept]
    with HistoryStore(database, read_only=True) as store:
        assert [run.run_id for run in store.runs()] == ["r1"]
    # SQLite's shared-memory index (-shm, -wal) may appear beside it: readers need it
    assert [path.read_bytes() for path in kept] == before


def test_an_older_database_is_read_as_it_is(state_dir):
    database = state_dir / "history.db"
    database.unlink()
    db = sqlite3.connect(database)
    for statement in filter(str.strip, MIGRATIONS[0].split(";")):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO runs (run_id, job, started_at, status) VALUES ('old', 'nightly', 1.0, 'failed')")
    db.commit()
    db.close()
    make_read_only(state_dir)

    result = read_as_nobody(database)

    assert (result.returncode, result.stdout.strip()) == (0, "['old']"), result.stderr
    assert sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True).execute("PRAGMA user_version").fetchone()[0] == 1


def cli_env(state: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPUAGENT_STATE_DIR": str(state)}
    for var in ("CONFIG", "UNIT", "RUNTIME"):
        env[f"GPUAGENT_{var}_DIR"] = str(state.parent / var.lower())
    return env


def test_history_and_status_work_for_a_user_who_may_only_read(state_dir):
    make_read_only(state_dir)
    env = cli_env(state_dir)
    history = as_nobody(sys.executable, "-m", "gpuagent", "--system", "history", "--json", env=env)
    assert history.returncode == 0, history.stderr
    assert [run["run_id"] for run in json.loads(history.stdout)["runs"]] == ["r1"]
    detail = as_nobody(sys.executable, "-m", "gpuagent", "--system", "history", "--run", "r1", env=env)
    assert detail.returncode == 0 and "r1" in detail.stdout, detail.stderr
    status = as_nobody(sys.executable, "-m", "gpuagent", "--system", "status", env=env)
    assert status.returncode == 0, status.stderr


def test_a_database_the_user_may_not_read_is_said_plainly(state_dir):
    (state_dir / "history.db").chmod(0o600)
    result = as_nobody(sys.executable, "-m", "gpuagent", "--system", "history", env=cli_env(state_dir))
    assert result.returncode == 1
    assert f"cannot read the history database {state_dir / 'history.db'}" in result.stderr
    assert "Traceback" not in result.stderr
