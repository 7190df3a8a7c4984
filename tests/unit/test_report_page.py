"""gpuagent report: the HTML page it builds (escaping, a chart per metric, an empty
history, a lone run, thousands of runs), the runs it reads, and what the command refuses.
(Where the page goes, a file written whole, stdout, never a terminal, is
tests/tools/test_report_command.py.)"""

import sqlite3
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from gpuagent.commands.report import JobReport, Report
from gpuagent.host.historydb import HistoryStore, period_query
from gpuagent.host.systemd import TimerState
from gpuagent.jobs.inventory import JobSummary
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.views.charts import MAX_MARKERS
from gpuagent.views.htmlreport import MAX_FAILURES_LISTED, report_page
from tests.support.agent import AgentHome
from tests.support.records import T0, record, run_record
from tests.support.report_history import realistic_runs

HOUR = 3600.0
GiB = 1024**3
NOW = T0 + 30 * 24 * HOUR


class Page(HTMLParser):
    """The page's elements, as a browser's parser meets them: tags with their attributes,
    and the text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def charts(self) -> list[str]:
        return [attrs["aria-label"] for attrs in self.all("svg") if attrs.get("class") == "chart"]


@pytest.fixture(autouse=True)
def utc(local_time_zone):
    local_time_zone("UTC")


def job_report(name: str, runs, *, next_fires=None, after: str | None = None) -> JobReport:
    job = job_from_options(name, parse_schedule(at="02:00"), dict(image="pytorch/pytorch:2.9.0", command=["python", "train.py"], after=after))
    timer = TimerState(loaded=True, enabled=True, next_elapse=None, last_trigger=None)
    fires = [datetime(2026, 4, 1, 2, tzinfo=UTC)] if next_fires is None else next_fires
    return JobReport(JobSummary(name, job, None, timer), list(runs), fires, None)


def report(*jobs: JobReport) -> Report:
    return Report("gpubox-01", list(jobs), datetime.fromtimestamp(T0, UTC), datetime.fromtimestamp(NOW, UTC), None)


def test_what_users_wrote_is_escaped_and_the_page_runs_nothing():
    hostile = "<script>alert('x')</script> & \"quoted\""
    runs = [
        run_record("r1", "nightly", "failed", T0 + HOUR, reason=hostile, metrics={"<b>loss</b>": 1.0}),
        run_record("r2", "nightly", "succeeded", T0 + 2 * HOUR, metrics={"<b>loss</b>": 0.5}),
    ]
    page_text = report_page(report(job_report("nightly", runs)))
    page = Page(page_text)

    assert "<script" not in page_text and "<b>loss" not in page_text
    assert page.all("script") == []
    assert hostile in "".join(page.text)  # shown as text, whole
    assert "<b>loss</b>" in page.charts()
    policy = next(attrs["content"] for attrs in page.all("meta") if attrs.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy
    assert "http://" not in page_text and "https://" not in page_text


def test_a_chart_for_duration_peak_vram_and_each_metric_by_name():
    runs = list(realistic_runs("nightly", 20, NOW))
    page = Page(report_page(report(job_report("nightly", runs))))

    assert page.charts() == ["duration", "peak VRAM", "accuracy", "train_loss", "val_loss"]
    assert len(page.all("polyline")) == 5
    assert len(page.all("circle")) == 20 * 2 + 3 * sum(run.metrics is not None for run in runs)


def test_runs_by_status_success_rate_and_failures_with_their_reasons():
    runs = [
        run_record("a", "nightly", "succeeded", T0 + 1 * HOUR),
        run_record("b", "nightly", "cuda-oom", T0 + 2 * HOUR, reason="exit 1: CUDA out of memory"),
        run_record("c", "nightly", "skipped-vram", T0 + 3 * HOUR, reason="no GPU with 20GiB free"),
        run_record("d", "nightly", "succeeded", T0 + 4 * HOUR),
        run_record("e", "nightly", "running", T0 + 5 * HOUR, took=None),
    ]
    page = Page(report_page(report(job_report("nightly", runs))))
    text = " ".join(page.text)

    assert "50%" in text and "2 of 4 finished runs" in text  # a skip did not succeed
    shares = [attrs["class"] for attrs in page.all("rect")]
    assert sorted(shares) == ["bad", "ok", "run", "skip"]
    assert "exit 1: CUDA out of memory" in text
    assert "no GPU with 20GiB free" not in text  # a skip is no failure
    assert "2026-04-01 02:00" in text  # the next fire


def test_a_lone_run_is_a_point_with_room_around_it():
    page_text = report_page(
        report(job_report("nightly", [run_record("r1", "nightly", "succeeded", T0, peak_vram_bytes=3 * GiB, metrics={"loss": 0.2})]))
    )
    page = Page(page_text)

    assert page.all("polyline") == []
    circles = page.all("circle")
    assert len(circles) == 3
    for circle in circles:
        assert 0 < float(circle["cx"]) < 640 and 0 < float(circle["cy"]) < 190
    assert "nan" not in page_text and "inf" not in page_text


def test_thousands_of_runs_are_lines_and_failures_are_listed_up_to_a_cap():
    runs = list(realistic_runs("eval-hourly", 5000, NOW))
    page_text = report_page(report(job_report("eval-hourly", runs)))
    page = Page(page_text)

    assert len(page.all("polyline")) == 3 and page.all("circle") == []
    assert len(runs) > MAX_MARKERS
    assert len(page_text) < 1_000_000
    assert len(page.all("tr")) == 2 + 1 + MAX_FAILURES_LISTED  # the overview's two, the failures' head and rows
    assert "older ones" in "".join(page.text)


def test_an_empty_history_is_still_a_page_with_each_job_and_its_next_fires():
    page = Page(report_page(report(job_report("nightly", []), job_report("follows", [], next_fires=[], after="nightly"))))
    text = " ".join(page.text)

    assert [attrs["id"] for attrs in page.all("section")] == ["job-nightly", "job-follows"]
    assert "No runs since 2026-03-01 02:00" in text
    assert "after each success of nightly" in text
    assert page.charts() == []


def test_no_jobs_at_all_says_how_to_add_one():
    assert "No jobs yet" in report_page(report())


# -- the runs it reads ------------------------------------------------------------------


def test_runs_in_period_are_one_jobs_since_then_oldest_first_through_an_index(tmp_path):
    database = tmp_path / "history.db"
    record(database, *(run_record(f"r{n:02d}", ("nightly", "hourly")[n % 2], "succeeded", T0 + (n - 10) * HOUR) for n in range(40)))
    with HistoryStore(database) as store:
        found = store.runs_in_period("nightly", T0)

    assert [run.run_id for run in found] == [f"r{n:02d}" for n in range(10, 40, 2)]
    plan = " / ".join(row[3] for row in sqlite3.connect(database).execute(f"EXPLAIN QUERY PLAN {period_query('nightly', T0)[0]}", ("nightly", T0)))
    assert "USING INDEX runs_by_job" in plan and "TEMP B-TREE" not in plan, plan


# -- the command ------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path):
    home = AgentHome(tmp_path / "agent")
    home.write_job("nightly", "gpuagent-test/busybox:latest", ["python", "train.py"])
    record(home.root / "state" / "history.db", *realistic_runs("nightly", 10, datetime.now().timestamp()))
    return home


def invoke(home: AgentHome, *args: str, status: int = 0):
    result = CliRunner().invoke(app, ["--system", "report", *args], env=home.env)
    assert result.exit_code == status, result.output
    return result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuchjob"], "no job named 'nosuchjob'"),
        (["Bad Name"], "invalid job name"),
        (["--since", "last tuesday"], "--since: cannot read 'last tuesday'"),
    ],
)
def test_what_it_refuses(home, args, message):
    assert message in invoke(home, *args, status=2).stderr


def test_o_refuses_a_directory_or_a_missing_one_and_writes_nothing(home, tmp_path):
    assert "is a directory" in invoke(home, "-o", str(tmp_path), status=2).stderr
    assert "no directory" in invoke(home, "-o", str(tmp_path / "missing" / "r.html"), status=2).stderr
    assert not (tmp_path / "missing").exists()


def test_the_runs_submitted_as_queue_name_have_a_page_of_their_own(home, tmp_path):
    now = datetime.now().timestamp()
    record(home.root / "state" / "history.db", *(run_record(f"q{n}", "queue/lr", "succeeded", now - (n + 1) * HOUR) for n in range(6)))
    page = tmp_path / "lr.html"
    invoke(home, "queue/lr", "-o", str(page))
    text = page.read_text()
    assert "queue/lr" in text and "runs submitted to the queue (gpuagent submit --name lr)" in text
    assert "nightly" not in text, "only the queue's runs"


def test_a_name_that_is_neither_a_job_nor_queue_name_is_refused(home):
    assert "invalid job name" in invoke(home, "notebook/lab", status=2).stderr
    assert "invalid name" in invoke(home, "queue/Bad Name", status=2).stderr
