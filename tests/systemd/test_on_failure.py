"""The template's OnFailure= handler in a real systemd, notifying a local HTTP receiver
(Apprise's json://, set host-wide in /etc/gpuagent/notify.toml): an agent killed outright
(SIGKILL) cannot notify, so systemd starts gpuagent-on-failure@JOB.service, which learns
the killed run's invocation from $MONITOR_INVOCATION_ID and notifies `lost` exactly once;
a run that fails by itself (exit 1) notifies `failure` itself, and the handler systemd
starts for it too sends nothing more. The box shares this host's network (systemd-nspawn
without --private-network), so the receiver runs here, on 127.0.0.1."""

import signal
import time

import pytest

from gpuagent.host.historydb import HistoryStore
from tests.support.agent import wait_for
from tests.support.boxed import SYSTEM_HISTORY, finished_runs, gpuagent, runs, unit_property
from tests.support.receiver import Receiver


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def box(systemd_box, receiver):
    notify = f'[[notify]]\nurl = "json://127.0.0.1:{receiver.port}/hook"\non = ["failure", "lost"]\n'
    systemd_box.write_file("/etc/gpuagent/notify.toml", notify, mode=0o600)
    return systemd_box


def handler_done(box, job: str) -> str:
    """The handler's journal once it has run to its end for `job` (its last line says what
    it notified)."""
    unit = f"gpuagent-on-failure@{job}.service"

    def done():
        journal = box.journal(unit)
        ended = "lost run(s) notified" in journal and unit_property(box, unit, "ActiveState") in ("inactive", "failed")
        return journal if ended else None

    try:
        return wait_for(done, timeout=90, interval=0.2, what=f"{unit} to run to its end")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}\n--- its journal ---\n{box.journal(unit)}") from None


def recorded(box, run_id: str) -> list:
    with HistoryStore(box.root / SYSTEM_HISTORY.lstrip("/"), read_only=True) as store:
        return store.notifications_of([run_id]).get(run_id, [])


def test_a_sigkilled_agents_run_is_notified_lost_once_by_the_handler(box, receiver, busybox_image):
    service = "gpuagent@doomed.service"
    gpuagent(box, "add", "doomed", "--at", "03:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo started; sleep 600")
    gpuagent(box, "trigger", "doomed")
    wait_for(lambda: "started" in box.journal(service), timeout=60, what="the container to start")
    [running] = runs(box, "doomed")
    invocation = unit_property(box, service, "InvocationID")
    assert running.status == "running" and running.invocation_id == invocation

    killed = time.monotonic()
    box.exec(["systemctl", "kill", "--kill-whom=main", f"--signal={int(signal.SIGKILL)}", service])

    try:
        wait_for(lambda: receiver.about("doomed"), timeout=90, interval=0.1, what="a notification about doomed")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}\n--- the handler's journal ---\n{box.journal('gpuagent-on-failure@doomed.service')}") from None
    print(f"\nSIGKILL to the lost notification: {time.monotonic() - killed:.2f} s")
    journal = handler_done(box, "doomed")
    ran = [int(unit_property(box, "gpuagent-on-failure@doomed.service", f"ExecMain{edge}TimestampMonotonic")) for edge in ("Start", "Exit")]
    print(f"the handler ran for {(ran[1] - ran[0]) / 1e6:.2f} s")
    assert unit_property(box, service, "Result") == "signal"
    assert unit_property(box, "gpuagent-on-failure@doomed.service", "Result") == "success"
    # what systemd told the handler: which invocation failed, and how
    assert f"gpuagent@doomed.service failed (signal, invocation {invocation}): 1 lost run(s) notified" in journal
    [message] = receiver.about("doomed")
    assert "lost" in f"{message['title']} {message['message']}".lower(), message
    [lost] = runs(box, "doomed")
    assert (lost.run_id, lost.status) == (running.run_id, "lost")
    [notification] = recorded(box, lost.run_id)
    assert (notification.event, notification.delivered) == ("lost", True)

    # Run by hand again (every $MONITOR_* unset), it finds the run notified: nothing more.
    again = gpuagent(box, "on-failure", "doomed")
    assert "0 lost run(s) notified" in again.stdout
    assert len(receiver.about("doomed")) == 1 and len(recorded(box, lost.run_id)) == 1


def test_a_run_that_fails_by_itself_notifies_once_and_the_handler_adds_nothing(box, receiver, busybox_image):
    gpuagent(box, "add", "failing", "--at", "03:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo failing; exit 1")
    gpuagent(box, "trigger", "failing")
    (run,) = finished_runs(box, "failing")
    assert run.status == "failed" and run.invocation_id

    journal = handler_done(box, "failing")

    assert unit_property(box, "gpuagent@failing.service", "Result") == "exit-code", "the unit failed: OnFailure= fired"
    assert f"gpuagent@failing.service failed (exit-code, invocation {run.invocation_id}): 0 lost run(s) notified" in journal
    [message] = receiver.about("failing")
    assert "lost" not in f"{message['title']} {message['message']}".lower(), message
    [notification] = recorded(box, run.run_id)
    assert (notification.event, notification.delivered) == ("failure", True)
