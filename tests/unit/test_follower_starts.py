"""Which followers (--after) a success starts, and the pending start of one still running
(runs/followers.py, runs/chaintrigger.py), with systemd replaced by a recorder: a follower
on a circle is never started; a running one gets one pending start, taken once."""

import time

import pytest

from gpuagent.core.paths import resolve_paths
from gpuagent.host.systemd import ServiceState
from gpuagent.runs import chaintrigger, followers
from gpuagent.runs.record import RunRecord, Status
from tests.support.agent import AgentHome

IMAGE = "gpuagent-test/busybox:latest"


class RecordedSystemd:
    """What start_followers and start_pending ask of systemd: the services running, and
    each start (with whether a stop asked of it was to be cancelled)."""

    running: set[str] = set()
    started: list[tuple[str, bool]] = []

    def __init__(self, user_mode: bool) -> None:
        pass

    def service_state(self, unit: str) -> ServiceState:
        return ServiceState(None, "active" if unit in self.running else "inactive", None, "success")

    def start(self, *units: str, unless_stopping: bool = False) -> None:
        self.started.extend((unit, unless_stopping) for unit in units)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setattr(RecordedSystemd, "running", set())
    monkeypatch.setattr(RecordedSystemd, "started", [])
    monkeypatch.setattr(followers, "Systemd", RecordedSystemd)
    return AgentHome(tmp_path / "agent")


def paths_of(home: AgentHome):
    return resolve_paths(user_mode=False, env=home.env)


def success(job: str, run_id: str = "r1") -> RunRecord:
    now = time.time()
    return RunRecord(run_id, job, None, None, now - 5, now, Status.SUCCEEDED, 0, "exited 0", (), IMAGE, None)


def started() -> list[str]:
    return [unit for unit, _ in RecordedSystemd.started]


def test_a_follower_on_a_circle_is_never_started_and_one_beside_it_is(home):
    home.write_job("a", IMAGE, ["true"], after="b")  # a circle written by hand: add and sync refuse it
    home.write_job("b", IMAGE, ["true"], after="a")
    home.write_job("report", IMAGE, ["true"], after="a")  # follows the circle, lies on none
    logged = []
    followers.start_followers(paths_of(home), success("a"), logged.append)
    assert started() == ["gpuagent@report.service"]
    assert "b runs after a, but is not started: a -> b -> a: --after circle; its followers are never started; fix the job files" in logged
    assert chaintrigger.take(paths_of(home), "b") is None  # no note left for it either


def test_a_job_after_itself_is_never_started_by_its_own_success(home):
    home.write_job("solo", IMAGE, ["true"], after="solo")
    followers.start_followers(paths_of(home), success("solo"), lambda line: None)
    assert started() == []


def test_a_running_follower_gets_one_pending_start_however_many_successes_come(home):
    paths = paths_of(home)
    home.write_job("train", IMAGE, ["true"])
    home.write_job("evaluate", IMAGE, ["true"], after="train")
    RecordedSystemd.running.add("gpuagent@evaluate.service")
    logged = []
    for run_id in ("r1", "r2", "r3"):
        followers.start_followers(paths, success("train", run_id), logged.append)
    assert sum("evaluate runs after train, but is still running: a start is pending" in line for line in logged) == 3
    # each success asks systemd (it may have ended meanwhile), never cancelling a stop
    assert RecordedSystemd.started == [("gpuagent@evaluate.service", True)] * 3

    RecordedSystemd.started.clear()
    ended = []
    followers.start_pending(paths, "evaluate", ended.append)  # the end of its run (ExecStopPost)
    followers.start_pending(paths, "evaluate", ended.append)  # a second end starts nothing more
    assert RecordedSystemd.started == [("gpuagent@evaluate.service", True)]
    assert ended == ["a start of evaluate was pending (its upstream succeeded while it ran): it starts once more"]

    told = []
    upstream = followers.upstream_of(paths, "evaluate", told.append)
    assert upstream is not None and upstream.run_id == "r3"  # the newest success
    assert "started by run r3 of train, which succeeded; a start was pending: train succeeded at " in told[0]
    assert told[0].endswith(" while this job ran")


def test_a_follower_not_running_is_started_with_no_pending_start(home):
    paths = paths_of(home)
    home.write_job("train", IMAGE, ["true"])
    home.write_job("evaluate", IMAGE, ["true"], after="train")
    followers.start_followers(paths, success("train"), lambda line: None)
    assert started() == ["gpuagent@evaluate.service"]
    followers.start_pending(paths, "evaluate", lambda line: None)
    assert started() == ["gpuagent@evaluate.service"]  # its end starts nothing
    told = []
    followers.upstream_of(paths, "evaluate", told.append)
    assert told == ["started by run r1 of train, which succeeded"]


def test_a_run_that_took_its_note_leaves_no_pending_start(home):
    """The pending mark is written after the note: a run that took the note first (it
    started meanwhile, with the newest upstream) leaves a mark that starts nothing."""
    paths = paths_of(home)
    chaintrigger.leave(paths, "evaluate", "train", "r1", pending_since=time.time())
    assert chaintrigger.take(paths, "evaluate") is not None
    assert not chaintrigger.take_pending(paths, "evaluate")
    chaintrigger.leave(paths, "evaluate", "train", "r2")
    (paths.runtime_dir / "after" / "evaluate.pending").write_text("")  # a mark left over
    chaintrigger.take(paths, "evaluate")
    assert not chaintrigger.take_pending(paths, "evaluate")


def test_a_refused_pending_start_is_dropped_and_said(home, monkeypatch):
    """The service is being stopped (by a person, or the shutdown): systemd refuses the
    start rather than cancel the stop, and the pending start is dropped."""
    from gpuagent.core.errors import SystemdError

    paths = paths_of(home)
    chaintrigger.leave(paths, "evaluate", "train", "r1", pending_since=time.time())

    def refuse(self, *units, unless_stopping=False):
        raise SystemdError("Transaction for gpuagent@evaluate.service/start is destructive")

    monkeypatch.setattr(RecordedSystemd, "start", refuse)
    logged = []
    followers.start_pending(paths, "evaluate", logged.append)
    assert "but it is not started: Transaction" in logged[0]
    assert chaintrigger.take(paths, "evaluate") is None


def test_a_name_that_is_no_job_name_starts_nothing(home):
    followers.start_pending(paths_of(home), "notebook/lab", lambda line: None)  # the notebook unit's reap
    assert started() == []


def test_trigger_wait_expects_only_the_followers_a_success_starts(home):
    """What `trigger --wait` waits for is what start_followers starts: not a follower on a
    circle, nor a disabled one, nor one whose file does not load (each would cost the
    wait its whole timeout), but one that follows the circle from outside it."""
    home.write_job("a", IMAGE, ["true"], after="b")
    home.write_job("b", IMAGE, ["true"], after="a")
    home.write_job("report", IMAGE, ["true"], after="a")
    home.write_job("paused", IMAGE, ["true"], after="a", enabled=False)
    paths = paths_of(home)
    assert followers.started_by_success(paths, "a") == ["report"]
    logged = []
    followers.start_followers(paths, success("a"), logged.append)
    assert started() == ["gpuagent@report.service"]
    assert any("paused runs after a, but is not started: it is disabled" in line for line in logged), logged
