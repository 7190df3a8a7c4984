"""What a boot closes (host/historydb.py's lose_earlier_boots): the runs an earlier boot
left `running`, each once, and never a run of this boot; a database from before the boot
column reads and migrates; and whether a timer's fire was a catch-up (jobs/catchup.py)."""

import sqlite3

import pytest

from gpuagent.host.boots import Boot, current_boot
from gpuagent.host.historydb import MIGRATIONS, HistoryStore
from gpuagent.jobs.catchup import TRIGGERED_NOW, caught_up
from tests.unit.test_history_store import record

REASON = "the host went down during the run (boot at then)"


def stamp(path, run_id: str, boot_id: str | None) -> None:
    """Make a row look as if an earlier boot (or a version before the column) wrote it."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET boot_id = ? WHERE run_id = ?", (boot_id, run_id))


def test_runs_left_running_by_an_earlier_boot_are_lost_once_and_this_boot_s_are_not_touched(tmp_path):
    path = tmp_path / "history.db"
    boot = Boot(current_boot().id, started_at=1000.0)
    with HistoryStore(path) as store:
        store.save(record("before", job="nightly", started_at=900.0))
        store.save(record("shell", job="shell/nightly", started_at=950.0))
        store.save(record("queued", job="queue/sweep", started_at=960.0))
        store.save(record("ended", job="nightly", started_at=800.0, status="succeeded", ended_at=850.0))
        store.save(record("now", job="nightly", started_at=1200.0))
        # started after the boot by the clock, but written by the last boot: its clock was late
        store.save(record("late-clock", job="other", started_at=1100.0))
        # rows of a version without the column: the boot time says
        store.save(record("legacy-old", job="other", started_at=500.0))
        store.save(record("legacy-new", job="other", started_at=1300.0))
    for run_id in ("before", "shell", "queued", "ended", "late-clock"):
        stamp(path, run_id, "an-earlier-boot")
    for run_id in ("legacy-old", "legacy-new"):
        stamp(path, run_id, None)

    with HistoryStore(path) as store:
        lost = store.lose_earlier_boots(boot, REASON)
        again = store.lose_earlier_boots(boot, REASON)
        after = {run.run_id: run for run in store.runs(limit=100)}

    assert [run.run_id for run in lost] == ["legacy-old", "before", "shell", "queued", "late-clock"]
    assert all(run.status == "lost" and run.reason == REASON and run.ended_at for run in lost)
    assert again == [], "a second pass finds nothing: nothing is recorded or announced twice"
    for run_id in ("legacy-old", "before", "shell", "queued", "late-clock"):
        assert (after[run_id].status, after[run_id].reason) == ("lost", REASON)
    assert after["now"].status == "running" and after["legacy-new"].status == "running"
    assert (after["ended"].status, after["ended"].ended_at) == ("succeeded", 850.0)


def test_a_run_closed_meanwhile_by_someone_else_is_not_closed_again(tmp_path):
    path = tmp_path / "history.db"
    with HistoryStore(path) as store:
        store.save(record("r1", started_at=10.0))
    stamp(path, "r1", "an-earlier-boot")
    with HistoryStore(path) as dispatcher:
        dispatcher.save(record("r1", started_at=10.0, status="lost", reason="the dispatcher's", ended_at=20.0))
    with HistoryStore(path) as store:
        assert store.lose_earlier_boots(Boot(current_boot().id, 1000.0), REASON) == []
        assert store.get("r1").reason == "the dispatcher's"


def test_a_database_from_before_the_boot_column_reads_and_migrates(tmp_path):
    path = tmp_path / "history.db"
    with sqlite3.connect(path) as db:
        for migration in MIGRATIONS[:6]:
            db.executescript(migration)
        db.execute("PRAGMA user_version = 6")
        db.execute("INSERT INTO runs (run_id, job, started_at, status) VALUES ('old', 'nightly', 5.0, 'running')")
    with HistoryStore(path, read_only=True) as reader:
        [old] = reader.runs()
        assert (old.run_id, old.catch_up) == ("old", False)
    with HistoryStore(path) as store:
        [lost] = store.lose_earlier_boots(Boot(current_boot().id, 100.0), REASON)
        assert lost.run_id == "old"


def test_a_catch_up_is_recorded_and_read_back(tmp_path):
    with HistoryStore(tmp_path / "history.db") as store:
        store.save(record("late", catch_up=True))
        store.save(record("on-time"))
        assert store.get("late").catch_up is True and store.get("on-time").catch_up is False


BOOT = 10_000.0


@pytest.mark.parametrize(
    ("last_trigger", "first_due", "now", "catch_up"),
    [
        (BOOT + 20, BOOT + 3600, BOOT + 21, True),  # fired at the timer's start, next due in an hour
        (BOOT + 20, None, BOOT + 21, True),  # a one-off date, now past: fired for it
        (BOOT + 20, BOOT + 15, BOOT + 21, False),  # due after the boot: fired on time
        (BOOT + 20, BOOT + 20, BOOT + 21, False),  # due at the very second it fired
        (BOOT + 20, BOOT + 3600, BOOT + 20 + TRIGGERED_NOW + 5, False),  # the timer fired long ago: started by hand
        (None, BOOT + 3600, BOOT + 21, False),  # never fired: started by hand
        (BOOT - 600, BOOT + 3600, BOOT + 21, False),  # the last fire was in the earlier boot
    ],
)
def test_a_catch_up_is_a_fire_for_a_time_before_the_boot(last_trigger, first_due, now, catch_up):
    assert caught_up(BOOT, last_trigger, first_due, now) is catch_up


def test_a_shell_s_agent_is_gone_when_its_pid_is_free_or_taken_by_a_later_process():
    import os
    import time

    from gpuagent.sessions.reaping import _agent_gone

    me = os.getpid()
    now = time.time()
    assert not _agent_gone(record("alive", job="shell/dev", agent_pid=me, started_at=now))
    assert _agent_gone(record("reused", job="shell/dev", agent_pid=me, started_at=now - 86400)), "this process started after that run"
    assert _agent_gone(record("free", job="shell/dev", agent_pid=2**22 + 12345, started_at=now))
    assert not _agent_gone(record("unknown", job="shell/dev", agent_pid=None, started_at=now))
