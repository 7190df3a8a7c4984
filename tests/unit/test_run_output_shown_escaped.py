"""What a container printed, or a reason made from it, is shown and not obeyed: every
control character but tab and newline reaches an operator's terminal, a chat message, a
ping body or the report written out (`\\x1b[31m`), through each place that shows it:
`history` and `history --run`, `logs`, `trigger --wait`, `top`, the notifications and
the HTML report."""

import io
import json
import re
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from gpuagent.cli import view_commands
from gpuagent.cli.app import app
from gpuagent.commands.history import RunInFull
from gpuagent.commands.report import JobReport, Report
from gpuagent.core.values import visible
from gpuagent.host.systemd import TimerState
from gpuagent.jobs.inventory import JobSummary
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.observe.notifications import FAILURE, compose, ping_body
from gpuagent.runs.following import RunEnded, RunOutput
from gpuagent.views import text
from gpuagent.views.htmlreport import report_page
from gpuagent.views.screen import Screen
from gpuagent.views.topview import print_frame
from tests.support.agent import AgentHome
from tests.support.records import T0, record, run_record
from tests.unit.test_top import hand_made_frame

# What a hostile (or merely colourful) program prints, each a way to act on a terminal.
HOSTILE = {
    "colour (CSI SGR)": "\x1b[31mred\x1b[0m",
    "erase the screen": "\x1b[2J\x1b[H",
    "window title (OSC, BEL-ended)": "\x1b]0;owned\x07",
    "hyperlink (OSC 8, ST-ended)": "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "bell": "ding\x07",
    "backspaces over text": "safe\x08\x08\x08\x08evil",
    "carriage return over text": "all good\rFAILED",
    "C1 CSI": "\x9b31mred",
    "C1 OSC": "\x9d0;owned\x9c",
    "NUL and DEL": "a\x00b\x7fc",
    "right-to-left override": "run \u202egnp.exe",
}
# Anything a terminal acts on rather than shows (tab and newline are shown).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ALL = " | ".join(HOSTILE.values())


def assert_shown_not_obeyed(shown: str) -> None:
    assert not CONTROL.search(shown), repr(CONTROL.search(shown)[0])
    assert "\\x1b[31mred\\x1b[0m" in shown and "\\x1b]0;owned\\x07" in shown and "\\u202e" in shown


@pytest.mark.parametrize("case", HOSTILE)
def test_visible_writes_out_each_control_and_keeps_tabs_newlines_and_text(case):
    shown = visible(f"{HOSTILE[case]}\tcol\nnext line é中")
    assert not CONTROL.search(shown)
    assert shown.endswith("\tcol\nnext line é中")
    assert visible(shown) == shown, "written out once, not twice"


def hostile_run(run_id: str = "r-bad"):
    return run_record(
        run_id,
        "nightly",
        "failed",
        T0,
        reason=f"exit 1: {ALL}",
        log_tail=f"epoch 1\tloss 0.5\n{ALL}\nTraceback: {HOSTILE['colour (CSI SGR)']}",
        metrics_problem=f"metrics.json: not JSON: {HOSTILE['window title (OSC, BEL-ended)']}",
        invocation_id="0123456789abcdef0123456789abcdef",
    )


@pytest.fixture
def home(tmp_path):
    home = AgentHome(tmp_path / "agent")
    home.write_job("nightly", "gpuagent-test/busybox:latest", ["python", "train.py"])
    record(home.root / "state" / "history.db", hostile_run())
    return home


@pytest.mark.parametrize("args", [["history", "--run", "r-bad"], ["history"], ["history", "nightly"]])
def test_history_shows_reasons_log_tails_and_metrics_problems_written_out(home, args):
    result = CliRunner().invoke(app, ["--system", *args], env=home.env)
    assert result.exit_code == 0, result.output
    assert_shown_not_obeyed(result.stdout)


@pytest.mark.parametrize("args", [["history", "--run", "r-bad", "--json"], ["history", "--json"]])
def test_history_json_holds_the_text_itself_with_every_control_escaped(home, args):
    """--json keeps the text (it parses back to what the run printed) and escapes what json
    leaves raw: the C1 controls and bidirectional overrides, which `jq -r` or `cat` would
    hand to a terminal."""
    result = CliRunner().invoke(app, ["--system", *args], env=home.env)
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.stdout), repr(CONTROL.search(result.stdout)[0])
    assert "\\u009b31mred" in result.stdout and "\\u202e" in result.stdout
    assert "\x9b31mred" in json.dumps(json.loads(result.stdout), ensure_ascii=False)


def test_history_run_on_a_terminal_too(home):
    """On a terminal (aligned fields, the tail as code): only gpuagent's own colours."""
    screen = Screen(file=io.StringIO(), terminal=True, width=300, escapes=False)
    text.run_detail(screen, RunInFull(hostile_run(), [], []))
    assert_shown_not_obeyed(screen.file.getvalue())


def test_logs_writes_out_what_the_journal_holds(home, monkeypatch):
    """The lines as journalctl prints them (its output stands in for the journal: this
    tier starts no program; tests/systemd reads a real one)."""
    printed = [f"2026-03-01T02:00:00+0000 box gpuagent[42]: {line}\n" for line in HOSTILE.values()]
    monkeypatch.setattr(view_commands, "job_logs", lambda *args: iter(printed))
    for follow in ([], ["-f"]):
        result = CliRunner().invoke(app, ["--system", "logs", "nightly", *follow], env=home.env)
        assert result.exit_code == 0, result.output
        assert_shown_not_obeyed(result.stdout)
        assert result.stdout.count("\n") == len(HOSTILE), "one line each, as they came"


@pytest.mark.parametrize("terminal", [False, True])
def test_trigger_wait_follows_a_run_written_out(terminal):
    screen = Screen(file=io.StringIO(), terminal=terminal, width=300, escapes=False)
    ended = RunEnded(hostile_run(), 1)
    text.follow(screen, iter([RunOutput(list(HOSTILE.values())), ended]), "nightly")
    assert_shown_not_obeyed(screen.file.getvalue())


def test_top_shows_the_reasons_of_the_last_ends_written_out():
    frame = hand_made_frame()
    frame = type(frame)(frame.taken_at, frame.gpus, frame.running, frame.queue, [hostile_run()])
    screen = Screen(file=io.StringIO(), terminal=False)
    print_frame(screen, frame)
    shown = screen.file.getvalue()
    assert not CONTROL.search(shown)
    assert "\\x1b[31mred\\x1b[0m" in shown


def test_notifications_and_the_ping_body_write_it_out():
    run = hostile_run()
    message = compose(FAILURE, run, "gpubox-01")
    assert_shown_not_obeyed(message.title + "\n" + message.body)
    assert "epoch 1\tloss 0.5" in message.body, "tabs kept"
    assert_shown_not_obeyed(ping_body(run).decode())


def test_the_html_report_writes_it_out():
    job = job_from_options("nightly", parse_schedule(at="02:00"), dict(image="img", command=["true"]))
    timer = TimerState(loaded=True, enabled=True, next_elapse=None, last_trigger=None)
    report = Report(
        "gpubox-01",
        [JobReport(JobSummary("nightly", job, None, timer), [hostile_run()], [], None)],
        datetime.fromtimestamp(T0 - 3600, UTC),
        datetime.fromtimestamp(T0 + 3600, UTC),
        None,
    )
    page = report_page(report)
    assert not CONTROL.search(page)
    assert "\\x1b[31mred\\x1b[0m" in page
