"""A host that goes down, in a real systemd that boots again over the same disk
(tests/support/queue_box.py's PoweredBox), with the real dockerd, two simulated GPUs and a
local HTTP receiver for notifications (Apprise's json://, host-wide in
/etc/gpuagent/notify.toml; the box shares this host's network).

A power cut runs no ExecStopPost and no failure handler: at the next boot
gpuagent-boot.service records each run that was going lost, once, with the reason;
removes its container and claims; and notifies `lost` once, while the queue's own look
at the queue after the boot records and notifies nothing more. A reboot across a fire of
a Persistent= timer runs the job once after the boot, recorded as a catch-up."""

import json
import subprocess
import time
from datetime import datetime

import pytest

from gpuagent.host.dockerd import LABEL_RUN
from gpuagent.host.historydb import HistoryStore
from tests.support.agent import wait_for
from tests.support.boxed import SYSTEM_HISTORY, finished_runs, gpuagent, runs, unit_property
from tests.support.queue_box import queue_box
from tests.support.receiver import Receiver

HOST_DOWN = "the host went down during the run (boot at "


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def qbox(tmp_path_factory, receiver):
    with queue_box(tmp_path_factory.mktemp("gpu-sim")) as qbox:
        notify = f'[[notify]]\nurl = "json://127.0.0.1:{receiver.port}/hook"\non = ["lost"]\n'
        qbox.box.write_file("/etc/gpuagent/notify.toml", notify, mode=0o600)
        yield qbox


def containers_of(run_id: str) -> list[str]:
    """The host's containers (any state) of a run, by the label gpuagent gives them."""
    listed = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label={LABEL_RUN}={run_id}"], capture_output=True, text=True, check=True)
    return listed.stdout.split()


def notified(qbox, run_id: str) -> list:
    with HistoryStore(qbox.box.root / SYSTEM_HISTORY.lstrip("/"), read_only=True) as store:
        return store.notifications_of([run_id]).get(run_id, [])


def test_a_power_cut_leaves_each_run_lost_once_notified_once_and_nothing_behind(qbox, receiver, busybox_image):
    box = qbox.box
    command = ["sh", "-c", "echo started; sleep 600"]
    gpuagent(box, "add", "severed", "--at", "03:00", "--disabled", "--image", busybox_image, "--", *command)
    box.exec(["systemctl", "enable", "gpuagent-boot.service"])  # as install.sh and the .deb do
    gpuagent(box, "trigger", "severed")
    wait_for(lambda: "started" in box.journal("gpuagent@severed.service"), timeout=60, what="the job's container to start")
    inflight = qbox.submit("--name", "inflight", "--gpus", "1", "--min-free-vram", "1GiB", "--image", busybox_image, "--", *command)
    wait_for(lambda: [e["state"] for e in qbox.entries()] == ["running"] and containers_of(inflight), timeout=60, what="the queued run's container")
    [job_run] = runs(box, "severed")
    assert job_run.status == "running" and containers_of(job_run.run_id)

    qbox.box.power_cycle()

    wait_for(lambda: unit_property(box, "gpuagent-boot.service", "ActiveState") == "active", timeout=120, what="the boot pass to run")
    # the queue's dispatcher looks at the queue after the boot (its timer): it lets go of the entry
    wait_for(lambda: not qbox.entries(), timeout=120, what="the queue to let go of the lost run")
    qbox.dispatchers_done()
    [lost] = runs(box, "severed")
    [queued_lost] = qbox.runs("inflight")
    for run, run_id in ((lost, job_run.run_id), (queued_lost, inflight)):
        assert (run.run_id, run.status) == (run_id, "lost")
        assert run.reason.startswith(HOST_DOWN), run.reason
        assert not containers_of(run_id), "its container is removed"
        [sent] = notified(qbox, run_id)
        assert (sent.event, sent.delivered) == ("lost", True)
    assert qbox.live_claims() == []
    for name in ("severed", "inflight"):
        [message] = receiver.about(name)
        assert "lost" in f"{message['title']} {message['message']}".lower(), message
    assert "1 lost run(s)" not in box.journal("gpuagent-on-failure@severed.service"), "no failure handler ran: the host went down"

    # Again, by hand: the runs are closed, nothing more is recorded or sent.
    again = gpuagent(box, "boot")
    assert "0 run(s) of earlier boots recorded lost, 0 notification(s) and ping(s) sent" in again.stdout
    assert len(receiver.about("severed")) == len(receiver.about("inflight")) == 1
    assert [run.status for run in runs(box, "severed")] == ["lost"]


def on(moment: float) -> str:
    """A calendar spec that elapses once, at `moment` (the box shares this host's clock)."""
    return datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def test_a_fire_missed_while_the_host_was_down_runs_once_after_the_boot_as_a_catch_up(qbox, busybox_image):
    box = qbox.box
    missed = time.time() + 30
    gpuagent(box, "add", "missed", "--on", on(missed), "--image", busybox_image, "--", "echo", "caught up")
    # a fire after the boot, early in it: on time, not a catch-up
    gpuagent(box, "add", "ontime", "--on", on(missed + 50), "--image", busybox_image, "--", "echo", "on time")

    box.reboot(off_until=missed + 5)

    [caught_up] = finished_runs(box, "missed", timeout=120)
    assert caught_up.started_at > missed, "it fired after the boot, not before the host went down"
    assert (caught_up.status, caught_up.catch_up) == ("succeeded", True)
    [on_time] = finished_runs(box, "ontime", timeout=150)
    assert (on_time.status, on_time.catch_up) == ("succeeded", False)
    assert len(runs(box, "missed")) == 1, "the missed fire runs once"
    shown = gpuagent(box, "history", "--run", caught_up.run_id).stdout
    assert "catch-up: its timer fired late, for a time the host was down" in shown, shown
    [listed] = json.loads(gpuagent(box, "history", "missed", "--json").stdout)["runs"]
    assert listed["catch_up"] is True
    assert json.loads(gpuagent(box, "history", "ontime", "--json").stdout)["runs"][0]["catch_up"] is False
