"""Notifications, the pure part and its store: the notify file's format, the event of a
run and which URL is told it, the message, and the notifications table."""

import sqlite3
from pathlib import Path

import pytest

from gpuagent.commands import doctor
from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import resolve_paths
from gpuagent.host.delivery import _scrubbed, ping_url
from gpuagent.host.historydb import MIGRATIONS, HistoryStore
from gpuagent.observe.notifications import (
    DEFAULT_EVENTS,
    FAILURE,
    LOST,
    PING_BODY_BYTES,
    RECOVERED,
    SKIP,
    SUCCESS,
    Notification,
    NotifySettings,
    Target,
    compose,
    ended_badly,
    notify_toml,
    parse_events,
    parse_notify_file,
    parse_ping_url,
    ping_body,
    run_event,
    wanted,
)
from gpuagent.runs.record import Status
from tests.support.records import T0, run_record

SOURCE = Path("/etc/gpuagent/notify/nightly.toml")
GiB = 1024**3


def parse(text: str, per_job: bool = True) -> NotifySettings:
    return parse_notify_file(text, SOURCE, per_job=per_job)


# --- the file -------------------------------------------------------------------------


def test_a_notify_file_reads_urls_events_and_ping():
    settings = parse(
        'ping = "https://hc-ping.com/0f1e2d3c"\n'
        '[[notify]]\nurl = "json://127.0.0.1:8080/hook"\non = ["recovered", "failure"]\n'
        '[[notify]]\nurl = "ntfy://my-topic"\n'
    )
    assert settings.ping == "https://hc-ping.com/0f1e2d3c"
    assert settings.targets == (Target("json://127.0.0.1:8080/hook", (FAILURE, RECOVERED)), Target("ntfy://my-topic", DEFAULT_EVENTS))
    assert DEFAULT_EVENTS == (FAILURE, LOST)
    assert parse("") == NotifySettings() and not parse("")


def test_what_add_writes_reads_back_the_same():
    settings = NotifySettings((Target("slack://T0/B0/XXXXXXXX", (SUCCESS, RECOVERED)), Target("json://h:1/p")), "https://hc-ping.com/u")
    text = notify_toml("nightly", settings, "add nightly")
    assert text.startswith("# gpuagent notifications of nightly")
    assert parse(text) == settings


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("urls = []\n", "unknown key 'urls'"),
        ('[[notify]]\nurl = "json://h/p"\nevents = ["failure"]\n', "notify[0]: unknown key 'events'"),
        ("[[notify]]\nurl = 3\n", "notify[0].url: must be a string, got int"),
        ('[[notify]]\non = ["failure"]\n', "notify[0].url: missing"),
        ('[[notify]]\nurl = "json://h/p"\non = "failure"\n', "notify[0].on: must be a list of strings"),
        ('[[notify]]\nurl = "json://h/p"\non = ["failure", "explode"]\n', "notify[0].on: unknown event 'explode'"),
        ('[[notify]]\nurl = "json://h/p"\non = []\n', "notify[0].on: no events given"),
        ('[[notify]]\nurl = "not a url"\n', "notify[0].url: not a notification URL"),
        ('[notify]\nurl = "json://h/p"\n', "notify must be a list of tables"),
        ("ping = 1\n", "ping must be a string, got int"),
        ('ping = "ftp://hc-ping.com/u"\n', "ping: a ping URL must be http:// or https://"),
        ("[[notify]\n", "not valid TOML"),
    ],
)
def test_a_bad_notify_file_names_the_file_and_the_key(text, says):
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    assert caught.value.message.startswith(f"{SOURCE}: "), caught.value.message
    assert says in caught.value.message
    assert caught.value.hint


def test_the_host_file_takes_no_ping():
    with pytest.raises(InvalidInput, match="ping is per job"):
        parse('ping = "https://hc-ping.com/u"\n', per_job=False)
    assert parse('[[notify]]\nurl = "json://h/p"\n', per_job=False).targets


def test_errors_never_show_the_url():
    with pytest.raises(InvalidInput) as caught:
        parse('[[notify]]\nurl = "slack://secret-token with space"\n')
    assert "secret-token" not in caught.value.message + (caught.value.hint or "")


def test_events_on_the_command_line():
    assert parse_events("recovered, failure") == (FAILURE, RECOVERED)
    with pytest.raises(InvalidInput, match="unknown event 'sucess'"):
        parse_events("sucess")
    with pytest.raises(InvalidInput, match="no events"):
        parse_events(" , ")


def test_ping_urls_are_http_and_the_suffix_goes_before_a_query():
    assert parse_ping_url("https://hc-ping.com/u/") == "https://hc-ping.com/u"
    for bad in ("hc-ping.com/u", "https://", "mailto://a@b", "https://hc-ping.com/u\n"):
        with pytest.raises(InvalidInput):
            parse_ping_url(bad)
    assert ping_url("https://hc-ping.com/KEY/slug?create=1", "start") == "https://hc-ping.com/KEY/slug/start?create=1"
    assert ping_url("https://hc-ping.com/u", "") == "https://hc-ping.com/u"


def test_what_a_receiver_said_is_kept_without_the_url_s_tokens():
    url = "slack://TOKENAAA/TOKENBBB/TOKENCCC/#channel?token=QUERYSECRET"
    said = _scrubbed(f"posting to {url} failed; TOKENBBB refused, QUERYSECRET bad", url)
    assert "TOKEN" not in said and "QUERYSECRET" not in said
    assert _scrubbed("cannot reach 127.0.0.1", "json://127.0.0.1:8080/hook") == "cannot reach 127.0.0.1", "a server's address stays"


# --- which event ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exit_status", "event"),
    [
        (Status.SUCCEEDED, 0, SUCCESS),
        (Status.SKIPPED_VRAM, 0, SKIP),
        (Status.SKIPPED_OVERLAP, 0, SKIP),
        (Status.SKIPPED_VRAM, 1, FAILURE),  # --vram-policy fail
        (Status.FAILED, 1, FAILURE),
        (Status.CUDA_OOM, 1, FAILURE),
        (Status.TIMED_OUT, 1, FAILURE),
        (Status.STOPPED, 1, FAILURE),
        (Status.ERROR, 1, FAILURE),
        (Status.LOST, 1, LOST),
    ],
)
def test_the_event_of_a_run(status, exit_status, event):
    assert run_event(run_record("r", "j", status, T0), exit_status) == event


def test_which_url_hears_of_what():
    default, both, success_only, everything = (
        Target("json://h/a"),
        Target("json://h/b", (SUCCESS, RECOVERED)),
        Target("json://h/c", (SUCCESS,)),
        Target("json://h/d", (FAILURE, SUCCESS, SKIP, RECOVERED, LOST)),
    )
    assert [wanted(t, SUCCESS, recovered=False) for t in (default, both, success_only)] == [None, SUCCESS, SUCCESS]
    assert [wanted(t, SUCCESS, recovered=True) for t in (default, both, success_only)] == [None, RECOVERED, SUCCESS], "one message each"
    assert wanted(Target("json://h/e", (RECOVERED,)), SUCCESS, recovered=False) is None
    assert [wanted(t, FAILURE, recovered=False) for t in (default, both)] == [FAILURE, None]
    assert wanted(default, SKIP, recovered=False) is None and wanted(everything, SKIP, recovered=False) == SKIP
    assert wanted(default, LOST, recovered=False) == LOST


def test_a_success_is_a_recovery_after_a_run_that_did_not_succeed():
    assert not ended_badly(None)
    assert not ended_badly(run_record("p", "j", Status.SUCCEEDED, T0))
    assert ended_badly(run_record("p", "j", Status.FAILED, T0)) and ended_badly(run_record("p", "j", Status.LOST, T0))


# --- the message ----------------------------------------------------------------------


def failed_run(**fields):
    tail = "\n".join(f"step {n}" for n in range(1, 51))
    status = fields.pop("status", Status.CUDA_OOM)
    values = dict(
        invocation_id="0123456789abcdef0123456789abcdef",
        gpu_uuids=("GPU-aaaaaaaa-1111",),
        gpu_names="NVIDIA H100 80GB HBM3",
        peak_vram_bytes=79 * GiB,
        exit_code=1,
        reason="exit 1: CUDA out of memory (see the log tail)",
        log_tail=tail,
        took=65.0,
    )
    return run_record("3f2a9c1b7d0e", "nightly", status, T0, **{**values, **fields})


def test_a_failure_message_says_everything_needed_to_look_further():
    message = compose(FAILURE, failed_run(), "gpubox")
    assert message.title == "[gpubox] nightly failed: cuda-oom"
    assert message.kind == "failure"
    for line in (
        "job: nightly",
        "run: 3f2a9c1b7d0e",
        "status: cuda-oom: exit 1: CUDA out of memory (see the log tail)",
        "exit code: 1",
        "took: 1m05s",
        "host: gpubox",
        "gpu: NVIDIA H100 80GB HBM3 (GPU-aaaaaaaa-1111)",
        "peak vram: 79GiB",
        "more: gpuagent history --run 3f2a9c1b7d0e",
        "      gpuagent logs nightly --run 3f2a9c1b7d0e",
    ):
        assert line in message.body.splitlines(), line
    lines = message.body.splitlines()
    start = lines.index("last 20 lines of output:")
    assert lines[start + 1 : start + 21] == [f"step {n}" for n in range(31, 51)]


def test_a_message_cuts_long_lines_and_says_where_a_hand_run_s_output_went():
    message = compose(FAILURE, failed_run(log_tail="x" * 10_000, invocation_id=None, status=Status.FAILED), "gpubox", "gpuagent --user")
    assert message.title == "[gpubox] nightly failed"
    assert max(len(line) for line in message.body.splitlines()) <= 500
    assert "gpuagent --user history --run 3f2a9c1b7d0e" in message.body
    assert "logs nightly --run" not in message.body and "started by hand" in message.body


def test_a_recovery_names_the_run_it_recovers_from():
    run = run_record("n2", "nightly", Status.SUCCEEDED, T0, log_tail=None)
    message = compose(RECOVERED, run, "gpubox", previous=run_record("n1", "nightly", Status.OOM_KILLED, T0 - 86400))
    assert message.title == "[gpubox] nightly recovered: succeeded after failing" and message.kind == "success"
    assert "before: run n1 ended oom-killed" in message.body
    assert "lines of output" not in message.body


def test_a_message_gives_the_runs_numbers_and_what_started_it():
    run = run_record("e1", "evaluate", Status.SUCCEEDED, T0, metrics={"eval_loss": 0.125, "promoted": 1.0}, upstream_run_id="t1")
    body = compose(SUCCESS, run, "gpubox").body
    assert "metrics: eval_loss 0.125, promoted 1" in body
    assert "started by: run t1 (it succeeded)" in body


def test_a_ping_body_is_how_it_ended_then_the_tail_of_the_log():
    body = ping_body(failed_run()).decode()
    assert body.startswith("nightly run 3f2a9c1b7d0e: cuda-oom (exit 1: CUDA out of memory (see the log tail))\n")
    assert body.rstrip().endswith("step 50")
    huge = ping_body(failed_run(log_tail="y" * 300_000 + "\nLAST LINE"))
    assert len(huge) == PING_BODY_BYTES and huge.rstrip().endswith(b"LAST LINE")


# --- the store ------------------------------------------------------------------------


def sent(run_id, job="nightly", at=T0, delivered=True, channel="notify", event=FAILURE):
    return Notification(run_id, job, channel, event, at, delivered, "json: delivered" if delivered else "json: refused")


def test_notifications_are_kept_and_the_last_one_of_a_job_is_found(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        assert store.last_notification("nightly") is None
        store.save_notification(sent("r1", at=T0))
        store.save_notification(sent("r2", at=T0 + 60, delivered=False))
        store.save_notification(sent("r2", at=T0 + 60, channel="ping"))
        store.save_notification(sent("x1", job="other", at=T0 + 120, delivered=False))
        last = store.last_notification("nightly")
        assert (last.run_id, last.channel, last.delivered) == ("r2", "ping", True), "the later of two at one moment"
        assert store.has_notification("r1") and not store.has_notification("r3")
        found = store.notifications_of(["r2", "r3", *(f"n{n}" for n in range(1200))])
        assert list(found) == ["r2"] and [n.channel for n in found["r2"]] == ["notify", "ping"]
        assert found["r2"][0] == sent("r2", at=T0 + 60, delivered=False)


def test_a_reader_of_a_database_older_than_notifications_sees_none(tmp_path):
    database = tmp_path / "h.db"
    with sqlite3.connect(database) as db:
        for version, migration in enumerate(MIGRATIONS[:-1]):
            db.executescript(migration)
            db.execute(f"PRAGMA user_version = {version + 1}")
    with HistoryStore(database, read_only=True) as store:
        assert store.last_notification("nightly") is None and store.notifications_of(["r1"]) == {}
        assert not store.has_notification("r1")
    with HistoryStore(database) as store:  # a writer migrates it
        store.save_notification(sent("r1"))
        assert store.has_notification("r1")


def test_the_previous_outcome_skips_skips_and_running_runs(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        for run_id, status, at in [
            ("a", Status.FAILED, T0),
            ("b", Status.SKIPPED_VRAM, T0 + 10),
            ("c", Status.RUNNING, T0 + 20),
            ("d", Status.SKIPPED_OVERLAP, T0 + 30),
            ("now", Status.SUCCEEDED, T0 + 40),
        ]:
            store.save(run_record(run_id, "nightly", status, at))
        store.save(run_record("z", "other", Status.SUCCEEDED, T0 + 35))
        assert store.previous_outcome("nightly", T0 + 40).run_id == "a"
        assert store.previous_outcome("nightly", T0) is None


def test_lost_runs_of_one_invocation_or_the_newest(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        store.save(run_record("l1", "nightly", Status.LOST, T0, invocation_id="inv-1"))
        store.save(run_record("l2", "nightly", Status.LOST, T0 + 10, invocation_id="inv-2"))
        store.save(run_record("l3", "nightly", Status.LOST, T0 + 20, invocation_id="inv-2", attempt=2, first_run_id="l2"))
        store.save(run_record("f4", "nightly", Status.FAILED, T0 + 30, invocation_id="inv-3"))
        assert [run.run_id for run in store.lost_runs("nightly", "inv-2")] == ["l2", "l3"]
        assert [run.run_id for run in store.lost_runs("nightly", None)] == ["l3"]
        assert store.lost_runs("nightly", "inv-3") == [] and store.lost_runs("other", None) == []


# --- what it costs when nothing is configured -----------------------------------------


# --- add --------------------------------------------------------------------------------


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    for var in ("CONFIG", "UNIT", "STATE", "RUNTIME"):
        (tmp_path / var.lower()).mkdir()
        monkeypatch.setenv(f"GPUAGENT_{var}_DIR", str(tmp_path / var.lower()))
    return tmp_path


def test_doctor_reports_notify_files_that_others_can_read_or_that_do_not_load(scratch):
    paths = resolve_paths(user_mode=False)
    assert doctor._notify_files(paths) == [], "none there, nothing to say"
    paths.notify_dir.mkdir(mode=0o755)
    (paths.notify_dir / "good.toml").write_text('[[notify]]\nurl = "json://h/p"\n')
    (paths.notify_dir / "good.toml").chmod(0o600)
    (paths.notify_dir / "open.toml").write_text('ping = "https://hc-ping.com/u"\n')
    (paths.notify_dir / "open.toml").chmod(0o644)
    (paths.notify_dir / "typo.toml").write_text('[[notify]]\nurl = "json://h/p"\non = ["failures"]\n')
    (paths.notify_dir / "typo.toml").chmod(0o600)
    findings = {finding.message.split(":")[0].split(" ")[0]: finding for finding in doctor._notify_files(paths)}

    assert findings[str(paths.notify_dir)].level == doctor.WARNING and findings[str(paths.notify_dir)].fix == f"chmod 700 {paths.notify_dir}"
    assert findings[str(paths.notify_dir / "good.toml")].level == doctor.OK
    assert findings[str(paths.notify_dir / "open.toml")].level == doctor.WARNING
    assert "chmod 600" in findings[str(paths.notify_dir / "open.toml")].fix
    typo = findings[str(paths.notify_dir / "typo.toml")]
    assert typo.level == doctor.WARNING and "unknown event 'failures'" in typo.message
    assert all(finding.check == "notify" for finding in findings.values())
