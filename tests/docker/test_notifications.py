"""Notifications and pings from real runs (a real dockerd, the busybox image) to a real
HTTP receiver on 127.0.0.1: what a failure posts, what a success does not, the
healthchecks.io ping sequence, receivers that refuse or hang (the run's end waits at most
the time limit and its record is unchanged), the lost-run notice against a real history
database, and `gpuagent add --notify` writing a private file that nothing prints."""

import io
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gpuagent.core.paths import resolve_paths
from gpuagent.host.delivery import write_notify_file
from gpuagent.host.historydb import HistoryStore
from gpuagent.observe.announce import announce_lost
from gpuagent.observe.notifications import NotifySettings, Target, notify_toml
from gpuagent.runs.runner import LOST_REASON, run_job
from tests.gpu_sim import FakeGpu
from tests.support.agent import AgentHome
from tests.support.receiver import Receiver
from tests.support.records import run_record

GPU = "GPU-0f0f0f0f-aaaa-bbbb-cccc-000000000001"
LIMIT = 2  # the [notify] timeout of these tests, in seconds


class Silent:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.socket.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for connection in self.held:
            connection.close()
        self.socket.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def home(tmp_path):
    home = AgentHome(tmp_path / "agent")
    (home.root / "config" / "gpuagent.toml").write_text(f"[notify]\ntimeout = {LIMIT}\n")
    return home


def paths_of(home: AgentHome):
    return resolve_paths(user_mode=False, env=home.env)


def notify_job(home: AgentHome, name: str, *targets: Target, ping: str | None = None) -> Path:
    path = paths_of(home).notify_file(name)
    write_notify_file(path, notify_toml(name, NotifySettings(tuple(targets), ping), f"add {name}"))
    return path


def run(home: AgentHome, name: str):
    lines: list[str] = []
    started = time.monotonic()
    record, status = run_job(paths_of(home), name, io.StringIO(), lines.append)
    return record, status, lines, time.monotonic() - started


def notifications(home: AgentHome, run_id: str):
    with HistoryStore(paths_of(home).history_db) as store:
        return store.notifications_of([run_id]).get(run_id, [])


def test_a_failing_run_posts_one_notification_that_says_what_happened(home, receiver, busybox_image, fake_gpus, monkeypatch):
    fake_gpus.update([FakeGpu(GPU, name="NVIDIA H100 80GB HBM3")])
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef")
    script = "for i in $(seq 1 30); do echo step $i; done; echo 'loss is nan' >&2; exit 3"
    home.write_job("nightly", busybox_image, ["sh", "-c", script], gpus=1)
    notify_job(home, "nightly", Target(receiver.url("json", "/hook")))
    record, status, lines, _ = run(home, "nightly")

    assert (record.status, record.exit_code, status) == ("failed", 3, 1)
    [sent] = receiver.posted_json("/hook")
    assert sent["type"] == "failure"
    assert sent["title"] == f"[{os.uname().nodename}] nightly failed"
    body = sent["message"].splitlines()
    for line in (
        "job: nightly",
        f"run: {record.run_id}",
        "status: failed: exit 3",
        "exit code: 3",
        f"host: {os.uname().nodename}",
        f"gpu: NVIDIA H100 80GB HBM3 ({GPU})",
        f"more: gpuagent history --run {record.run_id}",
        f"      gpuagent logs nightly --run {record.run_id}",
    ):
        assert line in body, (line, sent["message"])
    assert any(line.startswith("took: ") and line != "took: -" for line in body)
    assert any(line.startswith("peak vram: ") for line in body)
    tail = body[body.index("last 20 lines of output:") + 1 :][:20]
    # stdout and stderr are separate pipes: where the stderr line lands is up to the kernel
    assert tail == record.log_tail.splitlines()[-20:] and "step 30" in tail and "step 10" not in tail
    [kept] = notifications(home, record.run_id)
    assert (kept.channel, kept.event, kept.delivered) == ("notify", "failure", True)
    assert not [line for line in lines if "not delivered" in line]


def test_a_succeeding_run_posts_nothing_unless_asked(home, receiver, busybox_image):
    home.write_job("quiet", busybox_image, ["echo", "ok"])
    notify_job(home, "quiet", Target(receiver.url("json", "/default")))
    record, status, _, _ = run(home, "quiet")
    assert (record.status, status) == ("succeeded", 0)
    assert receiver.requests == [] and notifications(home, record.run_id) == []

    home.write_job("chatty", busybox_image, ["echo", "ok"])
    exposed = notify_job(home, "chatty", Target(receiver.url("json", "/success"), ("success",)))
    exposed.chmod(0o644)
    record, _, lines, _ = run(home, "chatty")
    [sent] = receiver.posted_json("/success")
    assert (sent["type"], sent["title"]) == ("success", f"[{os.uname().nodename}] chatty succeeded")
    assert "lines of output" not in sent["message"], "a success keeps no log tail"
    assert [line for line in lines if line.startswith(f"warning: {exposed} can be read") and "chmod 600" in line], (
        "readable by others: it works, and says so"
    )


def test_the_first_success_after_a_failure_is_a_recovery_and_a_host_url_hears_it(home, receiver, busybox_image, tmp_path):
    flag = tmp_path / "flag"
    flag.mkdir()
    flag.chmod(0o777)
    home.write_job("flaky", busybox_image, ["sh", "-c", "test -e /flag/ok"], volumes=[f"{flag}:/flag"])
    host_file = paths_of(home).host_notify_file
    write_notify_file(host_file, notify_toml("-", NotifySettings((Target(receiver.url("json", "/host"), ("success", "recovered")),)), "add -"))
    notify_job(home, "flaky", Target(receiver.url("json", "/job"), ("failure",)))

    failed, _, _, _ = run(home, "flaky")
    (flag / "ok").touch()
    recovered, _, _, _ = run(home, "flaky")
    succeeded, _, _, _ = run(home, "flaky")

    assert (failed.status, recovered.status, succeeded.status) == ("failed", "succeeded", "succeeded")
    assert [sent["title"].split("] ")[1] for sent in receiver.posted_json("/host")] == [
        "flaky recovered: succeeded after failing",
        "flaky succeeded",
    ], "one message per run for a URL that wants both"
    assert f"before: run {failed.run_id} ended failed" in receiver.posted_json("/host")[0]["message"]
    assert len(receiver.posted_json("/job")) == 1


def test_the_dead_man_s_switch_hears_start_then_success_or_fail_with_the_log_tail(home, receiver, busybox_image):
    home.write_job("good", busybox_image, ["echo", "fine"])
    notify_job(home, "good", ping=receiver.url("http", "/ping/good-uuid"))
    record, _, _, _ = run(home, "good")
    assert [(method, path) for method, path, _ in receiver.requests] == [("POST", "/ping/good-uuid/start"), ("POST", "/ping/good-uuid")]
    [ping] = notifications(home, record.run_id)
    assert (ping.channel, ping.event, ping.delivered) == ("ping", "success", True)

    receiver.requests.clear()
    home.write_job("bad", busybox_image, ["sh", "-c", "echo about to fail; echo Traceback >&2; exit 2"])
    notify_job(home, "bad", ping=receiver.url("http", "/ping/bad-uuid"))
    record, _, _, _ = run(home, "bad")
    assert [(method, path) for method, path, _ in receiver.requests] == [("POST", "/ping/bad-uuid/start"), ("POST", "/ping/bad-uuid/fail")]
    body = receiver.requests[1][2].decode()
    assert body.startswith(f"bad run {record.run_id}: failed (exit 2)\n")
    assert "about to fail" in body and "Traceback" in body


@pytest.mark.parametrize("receiver_kind", ["refuses", "hangs"])
def test_a_receiver_that_refuses_or_hangs_delays_the_end_by_at_most_the_limit(home, busybox_image, receiver_kind):
    silent = Silent() if receiver_kind == "hangs" else None
    port = silent.port if silent else closed_port()
    try:
        home.write_job("unheard", busybox_image, ["sh", "-c", "exit 1"])
        notify_job(home, "unheard", Target(f"json://127.0.0.1:{port}/hook"), ping=f"http://127.0.0.1:{port}/ping")
        # the /start ping is sent and fails (or waits) too: time the end alone
        home.write_job("baseline", busybox_image, ["sh", "-c", "exit 1"])
        _, _, _, baseline = run(home, "baseline")
        record, status, lines, took = run(home, "unheard")
    finally:
        if silent:
            silent.close()

    assert took < baseline + 2 * LIMIT + 1.5, f"start and end each wait at most {LIMIT}s (took {took:.1f}s, a run alone {baseline:.1f}s)"
    if receiver_kind == "hangs":
        assert took > baseline + LIMIT, "a hanging receiver is waited for up to the limit"
    assert (record.status, record.exit_code, status) == ("failed", 1, 1)
    with HistoryStore(paths_of(home).history_db) as store:
        assert store.get(record.run_id) == record, "the run's record is as the run left it"
    kept = notifications(home, record.run_id)
    assert sorted((n.channel, n.delivered) for n in kept) == [("notify", False), ("ping", False)]
    if receiver_kind == "hangs":
        assert all(n.detail == f"no answer within {LIMIT}s (the [notify] timeout)" for n in kept), kept
    assert [line for line in lines if "not delivered" in line and record.run_id in line], lines
    with HistoryStore(paths_of(home).history_db) as store:
        assert store.last_notification("unheard").delivered is False


def test_a_lost_run_is_notified_once(home, receiver):
    paths = paths_of(home)
    notify_job(home, "victim", Target(receiver.url("json", "/hook")), ping=receiver.url("http", "/ping/victim"))
    with HistoryStore(paths.history_db) as store:
        store.save(run_record("old", "victim", "lost", 1000.0, invocation_id="inv-0", reason=LOST_REASON))
        store.save(run_record("try1", "victim", "failed", 2000.0, invocation_id="inv-1"))
        store.save(run_record("try2", "victim", "running", 2100.0, invocation_id="inv-1", attempt=2, first_run_id="try1", took=None))
        store.mark_lost("victim", LOST_REASON)

    assert announce_lost(paths, "victim", "inv-1", print) == 2, "one message, one /fail ping"
    [sent] = receiver.posted_json("/hook")
    assert sent["title"].endswith("victim: its run was lost (the agent died)") and sent["type"] == "failure"
    assert "run: try2 (attempt 2, a retry of try1)" in sent["message"] and LOST_REASON in sent["message"]
    assert sorted(path for _, path, _ in receiver.requests) == ["/hook", "/ping/victim/fail"], "sent together, in either order"
    assert {(n.channel, n.event, n.delivered) for n in notifications(home, "try2")} == {("notify", "lost", True), ("ping", "lost", True)}

    assert announce_lost(paths, "victim", "inv-1", print) == 0, "a run already notified is not notified again"
    assert announce_lost(paths, "victim", None, print) == 0, "the newest lost run is try2, notified"
    assert announce_lost(paths, "victim", "inv-0", print) == 2, "an earlier invocation's lost run had not been"
    assert len(receiver.posted_json("/hook")) == 2


def test_add_writes_a_private_notify_file_that_show_never_prints(tmp_path, receiver):
    """`add` in --user mode, with a stub systemctl on PATH that says yes to everything: the
    files are gpuagent's own, only the timer's enabling is not done."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "systemctl").write_text("#!/bin/sh\nexit 0\n")
    (stubs / "systemctl").chmod(0o755)
    (stubs / "systemd-analyze").symlink_to(subprocess.run(["which", "systemd-analyze"], capture_output=True, text=True).stdout.strip())
    home = AgentHome(tmp_path / "agent", extra_env={"PATH": f"{stubs}:{os.environ['PATH']}"})
    url, ping = receiver.url("json", "/hook/SECRET-TOKEN"), receiver.url("http", "/ping/SECRET-UUID")

    def gpuagent(*args):
        return subprocess.run([sys.executable, "-m", "gpuagent", "--user", *args], env=home.env, capture_output=True, text=True, timeout=60)

    added = gpuagent(
        "add", "nightly", "--at", "02:00", "--image", "img", "--notify", url, "--notify-on", "failure,recovered", "--ping", ping, "--", "true"
    )
    assert added.returncode == 0, added.stderr
    notify_file = home.root / "config" / "notify" / "nightly.toml"
    assert stat.S_IMODE(notify_file.stat().st_mode) == 0o600 and stat.S_IMODE(notify_file.parent.stat().st_mode) == 0o700
    assert url in notify_file.read_text() and ping in notify_file.read_text()
    assert "SECRET" not in (home.root / "config" / "jobs" / "nightly.toml").read_text()
    assert "SECRET" not in added.stdout + added.stderr

    shown = gpuagent("show", "nightly", "--json")
    assert shown.returncode == 0, shown.stderr
    assert "SECRET" not in shown.stdout
    told = json.loads(shown.stdout)["notify"]
    assert told == {"file": str(notify_file), "urls": [{"scope": "job", "events": ["failure", "recovered"]}], "ping": True, "problems": []}
    assert "SECRET" not in gpuagent("show", "nightly").stdout

    kept = gpuagent("add", "nightly", "--replace", "--at", "03:00", "--image", "img", "--", "true")
    assert kept.returncode == 0, kept.stderr
    assert url in notify_file.read_text(), "--replace without notification options keeps them"
    rewritten = gpuagent("add", "nightly", "--replace", "--at", "03:00", "--image", "img", "--ping", ping, "--", "true")
    assert rewritten.returncode == 0, rewritten.stderr
    assert url in notify_file.read_text() and ping in notify_file.read_text(), "--ping alone keeps the URLs (tests/tools/test_add_replace.py)"

    refused = gpuagent("add", "other", "--at", "02:00", "--image", "img", "--notify", "nosuchservice://SECRET", "--", "true")
    assert refused.returncode == 2 and "SECRET" not in refused.stderr
    assert not (home.root / "config" / "jobs" / "other.toml").exists() and not (home.root / "config" / "notify" / "other.toml").exists()

    removed = gpuagent("remove", "nightly")
    assert removed.returncode == 0, removed.stderr
    assert not notify_file.exists()
