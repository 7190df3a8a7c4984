"""status, history and gpus as people see them, against golden files: on a terminal 120
columns wide (no colours, so the files read as text) and piped (plain text).

GPUAGENT_UPDATE_GOLDEN=1 rewrites the files; read the diff before committing it."""

import io
import os
from datetime import UTC
from pathlib import Path

import pytest

from gpuagent.commands.history import RunHistory
from gpuagent.commands.status import StatusReport, assess
from gpuagent.core.paths import resolve_paths
from gpuagent.host.systemd import TimerState
from gpuagent.jobs.inventory import JobSummary
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.runs.gpuholders import read_gpu_report
from gpuagent.runs.record import RunRecord
from gpuagent.runs.reservations import Reservations
from gpuagent.views import text as render
from gpuagent.views.screen import Screen
from tests.gpu_sim import FakeGpu, GiB
from tests.support.records import T0, run_record

GOLDEN = Path(__file__).parent / "golden"
WIDTH = 120
HOUR = 3600.0
NOW = T0 + 2 * HOUR
GONE_PID = 4_000_000  # above pid_max: no such process, so "other"


@pytest.fixture(autouse=True)
def utc(local_time_zone):
    local_time_zone("UTC")


def moment(epoch: float):
    from datetime import datetime

    return datetime.fromtimestamp(epoch, tz=UTC)


def job(name: str, gpus: int = 0, enabled: bool = True, **schedule):
    options = dict(image="gpuagent-test/busybox:latest", command=["true"], gpus=gpus, enabled=enabled)
    return job_from_options(name, parse_schedule(**schedule), options)


def timer(enabled: bool = True, next_fire: float | None = None, last_fire: float | None = None) -> TimerState:
    return TimerState(True, enabled, None if next_fire is None else moment(next_fire), None if last_fire is None else moment(last_fire))


def status_report() -> StatusReport:
    nightly = [run_record(f"n{day}", "nightly", "succeeded", T0 - day * 24 * HOUR, took=3720) for day in range(12)]
    nightly[3] = run_record("n3", "nightly", "oom-killed", T0 - 3 * 24 * HOUR, took=600)
    hourly = [run_record(f"h{n}", "hourly", status, T0 + HOUR - n * HOUR) for n, status in enumerate(["failed", "cuda-oom", "error", "succeeded"])]
    jobs = [
        (JobSummary("nightly", job("nightly", gpus=1, at="02:00"), None, timer(True, T0 + 24 * HOUR, T0)), nightly[:10]),
        (JobSummary("hourly", job("hourly", every="1h"), None, timer(True, NOW + 1200, T0 + HOUR)), hourly),
        (
            JobSummary("weekly", job("weekly", cron="0 3 * * sun"), None, timer(True, T0 + 7 * 24 * HOUR + HOUR, T0 + HOUR)),
            [run_record("w1", "weekly", "succeeded", T0 - 7 * 24 * HOUR + HOUR)],
        ),
        (JobSummary("paused", job("paused", enabled=False, on="Mon..Fri *-*-* 09:30"), None, timer(False)), []),
        (
            JobSummary("running", job("running", at="01:30"), None, timer(True, None, T0 - 1800)),
            [run_record("r1", "running", "running", T0 - 1800, took=None)],
        ),
        (JobSummary("broken", None, "job file /etc/gpuagent/jobs/broken.toml: missing key 'command'", timer(True)), []),
    ]
    return StatusReport([assess(summary, runs, NOW) for summary, runs in jobs], None)


def history_runs() -> list[RunRecord]:
    gpu_a, gpu_b = "GPU-aaaaaaaa-1111-2222-3333-444444444444", "GPU-bbbbbbbb-1111-2222-3333-444444444444"
    return [
        run_record("3f2a9c1b7d0e", "nightly", "succeeded", T0, took=3720, gpu_uuids=(gpu_a,), peak_vram_bytes=21 * GiB),
        run_record(
            "9d81e07aa2c4",
            "hourly",
            "cuda-oom",
            T0 - HOUR,
            took=65,
            exit_code=1,
            gpu_uuids=(gpu_a, gpu_b),
            peak_vram_bytes=79 * GiB + GiB // 2,
            reason="exit 1: CUDA out of memory (see the log tail)",
        ),
        run_record(
            "51c0ffee0042",
            "hourly",
            "skipped-vram",
            T0 - 2 * HOUR,
            took=1800,
            exit_code=None,
            reason=f"needs 1 GPU(s) with 40GiB free; best free is 30GiB on GPU 1 ({gpu_b}) after waiting 1800s",
        ),
        run_record(
            "0badc0de0001", "nightly", "timed-out", T0 - 24 * HOUR, took=6 * HOUR, exit_code=143, reason="ran past its --timeout and was stopped"
        ),
        run_record("77aa00bb11cc", "cpu", "running", T0 + HOUR, took=None),
    ]


def gpus_report(fake_gpus, tmp_path):
    """Four GPUs, one of them partly reserved by a notebook that has no kernel yet."""
    paths = resolve_paths(user_mode=False, env={"GPUAGENT_RUNTIME_DIR": str(tmp_path)})
    with Reservations(paths.runtime_dir).admission() as book:
        book.claim("a1b2c3d4e5f6", ("GPU-bbbbbbbb-1111-2222-3333-444444444444",), 20 * GiB, "notebook/lab", lasting=True)
    fake_gpus.update(
        [
            FakeGpu("GPU-aaaaaaaa-1111-2222-3333-444444444444", used=61 * GiB, util=97, temp=74, power=612_000, processes=[(GONE_PID, 60 * GiB)]),
            FakeGpu(
                "GPU-bbbbbbbb-1111-2222-3333-444444444444", name="NVIDIA A100-SXM4-40GB", total=40 * GiB, used=GiB // 2, util=0, temp=31, power=54_400
            ),
            FakeGpu("GPU-cccccccc-1111-2222-3333-444444444444", state="lost"),
            FakeGpu(
                "GPU-dddddddd-1111-2222-3333-444444444444",
                used=10 * GiB,
                unsupported={"util", "temp", "power"},
                graphics_processes=[(GONE_PID + 1, None)],
            ),
        ]
    )
    return read_gpu_report(paths)


def rendered(view: str, result, terminal: bool) -> str:
    buffer = io.StringIO()
    getattr(render, view)(Screen(file=buffer, terminal=terminal, width=WIDTH, escapes=False), result)
    return buffer.getvalue()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("GPUAGENT_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "plain"])
def test_status(terminal):
    check_golden(f"status-{'terminal' if terminal else 'plain'}.txt", rendered("status", status_report(), terminal))


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "plain"])
def test_history(terminal):
    check_golden(f"history-{'terminal' if terminal else 'plain'}.txt", rendered("runs", RunHistory(history_runs(), {}), terminal))


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "plain"])
def test_gpus(fake_gpus, tmp_path, terminal):
    check_golden(f"gpus-{'terminal' if terminal else 'plain'}.txt", rendered("gpus", gpus_report(fake_gpus, tmp_path), terminal))


@pytest.mark.parametrize("width", [WIDTH, 60], ids=["fits", "wraps"])
def test_colours_on_a_terminal_follow_no_color(monkeypatch, width):
    def coloured() -> str:
        buffer = io.StringIO()
        render.status(Screen(file=buffer, terminal=True, width=width), status_report())
        return buffer.getvalue()

    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\x1b[31m" in coloured(), "a failed run is red"
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[31m" not in coloured() and "\x1b[1m" in coloured(), "no colours, bold stays"
