"""`gpuagent boot` (what gpuagent-boot.service runs once a boot) as a process, against the
real dockerd, a real history database and a local HTTP receiver: every run an earlier
boot left `running` (a job's, a queued run's, a shell's) is recorded lost with the
reason, its container and GPU claims are removed, and a job's and a queued run's `lost`
notification goes out once; a run of this boot, its container and its claim are not
touched; and a second pass records and sends nothing. (The power cut itself, in a booted
systemd: tests/systemd/test_host_down.py.)"""

import dataclasses
import json
import os
import sqlite3
import subprocess

import pytest

from gpuagent.core.paths import resolve_paths
from gpuagent.host.delivery import write_notify_file
from gpuagent.host.dockerd import LABEL_JOB, LABEL_RUN
from gpuagent.host.historydb import HistoryStore
from gpuagent.observe.notifications import NotifySettings, Target, notify_toml
from gpuagent.runs.reservations import Claim
from tests.support.agent import AgentHome
from tests.support.receiver import Receiver
from tests.support.records import record, run_record

GPU = "GPU-0f0f0f0f-aaaa-bbbb-cccc-000000000001"
EARLIER = ("job-old", "nightly"), ("queued-old", "queue/sweep"), ("shell-old", "shell/lab")


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


def container(image: str, subject: str, run_id: str) -> str:
    started = subprocess.run(
        ["docker", "run", "-d", "--label", f"{LABEL_JOB}={subject}", "--label", f"{LABEL_RUN}={run_id}", image, "sleep", "600"],
        capture_output=True,
        text=True,
        check=True,
    )
    return started.stdout.strip()


def containers_of(run_id: str) -> list[str]:
    listed = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label={LABEL_RUN}={run_id}"], capture_output=True, text=True, check=True)
    return listed.stdout.split()


def test_a_boot_closes_the_runs_of_earlier_boots_once_and_leaves_this_boot_s_alone(tmp_path, receiver, busybox_image):
    home = AgentHome(tmp_path / "agent")
    paths = resolve_paths(user_mode=False, env=home.env)
    write_notify_file(paths.host_notify_file, notify_toml("-", NotifySettings((Target(receiver.url("json", "/host"), ("lost",)),)), "add -"))
    history = paths.history_db
    record(history, *(run_record(run_id, subject, "running", 1000.0, took=None) for run_id, subject in EARLIER))
    record(history, run_record("job-now", "nightly", "running", 2000.0, took=None))
    with sqlite3.connect(history) as db:  # written by an earlier boot of the host
        db.executemany("UPDATE runs SET boot_id = 'an-earlier-boot' WHERE run_id = ?", [(run_id,) for run_id, _ in EARLIER])
    containers = {run_id: container(busybox_image, subject, run_id) for run_id, subject in (*EARLIER, ("job-now", "nightly"))}
    claims = [
        Claim(run_id, os.getpid(), GPU, 1 << 30, 0.0, holder, lasting=True) for run_id, holder in (("job-old", "nightly"), ("job-now", "nightly"))
    ]
    (paths.runtime_dir / "claims.json").write_text(json.dumps([dataclasses.asdict(claim) for claim in claims]))
    try:
        first = home.run("boot")
        again = home.run("boot")

        assert first.returncode == 0, first.stderr
        assert "3 run(s) of earlier boots recorded lost, 2 notification(s) and ping(s) sent" in first.stdout, first.stdout + first.stderr
        with HistoryStore(history, read_only=True) as store:
            for run_id, _ in EARLIER:
                closed = store.get(run_id)
                assert closed.status == "lost" and closed.reason.startswith("the host went down during the run (boot at "), closed
                assert not containers_of(run_id), f"the container of {run_id} is removed"
            assert store.get("job-now").status == "running"
            sent = store.notifications_of([run_id for run_id, _ in EARLIER])
        assert containers_of("job-now"), "a run of this boot keeps its container"
        assert [claim["run_id"] for claim in json.loads((paths.runtime_dir / "claims.json").read_text())] == ["job-now"]
        assert {run_id: [(n.event, n.delivered) for n in notes] for run_id, notes in sent.items()} == {
            "job-old": [("lost", True)],
            "queued-old": [("lost", True)],
        }, "a shell's loss is not announced: someone was at its terminal"
        assert len(receiver.about("nightly")) == len(receiver.about("queue/sweep")) == 1 and not receiver.about("shell/lab")

        assert again.returncode == 0, again.stderr
        assert "0 run(s) of earlier boots recorded lost, 0 notification(s) and ping(s) sent" in again.stdout
        assert len(receiver.requests) == 2
    finally:
        subprocess.run(["docker", "rm", "-f", *containers.values()], capture_output=True)
