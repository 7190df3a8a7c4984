"""gpuagent top in-process: a frame made by hand drawn as a terminal of 80x24 shows every
section within it; read_frame gathers a frame from a real history and queue; piped
(CliRunner), the command prints one frame as plain text. The live loop in a real
terminal is tests/tools/test_top_terminal.py."""

import io
import time

import pytest
from rich.console import Console
from typer.testing import CliRunner

from gpuagent.cli.app import app
from gpuagent.commands.top import RunningRun, TopFrame, read_frame
from gpuagent.core.paths import resolve_paths
from gpuagent.host.queuedb import QueueStore
from gpuagent.queue.entry import EntryState
from gpuagent.queue.order import QueueRules
from gpuagent.queue.standing import QueueRow, QueueView
from gpuagent.runs.gpuholders import GpuProcessOwner, GpusReport, GpuView
from gpuagent.runs.reservations import Claim
from gpuagent.runs.vramneed import VramNeed
from gpuagent.views.screen import cell_width
from gpuagent.views.topview import fitted
from tests.gpu_sim import FakeGpu, GiB
from tests.support.agent import AgentHome
from tests.support.queue_entries import T0, gpu, gpu_uuid, queue_entry
from tests.support.records import record, run_record

WIDTH, HEIGHT = 80, 24
LONG_WHY = "needs 1 GPU(s) with 40GiB free; the best has 22GiB free; held for the head of the queue, which has waited 2h"


def hand_made_frame(waiting: int = 3, ended: int = 3) -> TopFrame:
    busy = gpu(0, free_gib=20)
    view = GpuView(
        busy,
        (GpuProcessOwner(4242, 50 * GiB, "c" * 64, "queue/train-resnet"), GpuProcessOwner(777, 10 * GiB, None, None)),
        (Claim("r-nightly", 4343, busy.uuid, 8 * GiB, T0, holder="nightly"),),
    )
    gpus = GpusReport("550.54.15", [view, GpuView(gpu(1, free_gib=80), ())], None, None)
    rows = [
        QueueRow(
            queue_entry(f"w{n:03d}", submitted_at=T0 - 600 + n, need_gib=40, params={"lr": "3e-4"} if n == 0 else None),
            n + 1,
            VramNeed(40 * GiB, "given"),
            "1 GPU with 40GiB free",
            600.0 - n,
            LONG_WHY if n else "a very long reason " * 10,
            False,
        )
        for n in range(waiting)
    ]
    queue = QueueView(rows, [], QueueRules(), None, None)
    running = [RunningRun("r-train", "queue/train-resnet", T0 - 3600, 4 * 3600), RunningRun("r-next", "queue/next", None, None)]
    ends = [
        run_record(f"e{n}", "nightly", "failed" if n % 2 else "succeeded", T0 - 7200 - n * 600, reason="exit 1: " + "a long log line " * 8)
        for n in range(ended)
    ]
    return TopFrame(T0, gpus, running, queue, ends)


def drawn(frame: TopFrame, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    """The frame as the live view draws it on a terminal of width x height."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, height=height, force_terminal=True, color_system=None)
    console.print(fitted(frame, width, height, "every 2s, q quits"))
    return buffer.getvalue().splitlines()


def test_every_section_shows_on_an_80x24_terminal():
    lines = drawn(hand_made_frame())
    screen = "\n".join(lines)

    assert len(lines) <= HEIGHT and max(map(cell_width, lines)) <= WIDTH
    assert lines[0].startswith("gpuagent top") and "q quits" in lines[0]
    [busy] = [line for line in lines if line.startswith("0 ")]
    assert "60GiB/80GiB" in busy and "queue/train-resnet 50GiB, reserved nightly 8GiB, " in busy
    assert busy.endswith("…"), "holders beyond the width are cut, not wrapped"
    assert "GPUs (2 × H100 80GB HBM3, driver 550.54.15)" in screen
    [train] = [line for line in lines if line.startswith("r-train ")]
    assert train.split()[1:] == ["queue/train-resnet", "1h00m", "3h00m"], "elapsed, then the timeout left"
    assert "starting" in next(line for line in lines if line.startswith("r-next "))
    assert "queue (3 waiting)" in screen and "queue/w000 lr=3e-4" in screen
    [second] = [line for line in lines if line.startswith("2 ")]
    assert "needs 1 GPU(s) with 40GiB" in second and second.endswith("…"), "a long why is cut, not wrapped"
    assert "ended, newest first" in screen
    assert [line.split()[:4] for line in lines if line.startswith(("e0 ", "e1 "))] == [
        ["e0", "nightly", "succeeded", "1h58m"],
        ["e1", "nightly", "failed", "2h08m"],
    ]


def test_a_long_queue_and_history_are_cut_to_the_height_and_say_how_many_are_not_shown():
    lines = drawn(hand_made_frame(waiting=40, ended=5))
    screen = "\n".join(lines)

    assert len(lines) == HEIGHT and max(map(cell_width, lines)) <= WIDTH
    for title in ("GPUs (2 ×", "running (2)", "queue (40 waiting)", "ended, newest first"):
        assert title in screen
    shown = sum(1 for line in lines if line.split()[:2] and line.split()[1].startswith("w0"))
    assert f"… {40 - shown} more" in screen and 0 < shown < 10


@pytest.mark.parametrize(("width", "height"), [(40, 12), (60, 8), (120, 40)])
def test_other_terminal_sizes_are_kept_to(width, height):
    lines = drawn(hand_made_frame(waiting=12), width, height)
    assert len(lines) <= height and max(map(cell_width, lines)) <= width


def test_a_host_without_nvml_says_so_in_the_frame():
    frame = hand_made_frame()
    frame = TopFrame(frame.taken_at, GpusReport(None, [], "NVIDIA driver not found: NVML could not be loaded", None), [], frame.queue, [])
    screen = "\n".join(drawn(frame))
    assert "GPUs: none to show" in screen and "NVIDIA driver not found" in screen
    assert "running: none" in screen and "ended: none yet" in screen


@pytest.fixture
def home(tmp_path, fake_gpus):
    home = AgentHome(tmp_path / "agent")
    fake_gpus.update([FakeGpu(gpu_uuid(0), used=70 * GiB, util=91, processes=[(4_000_000, 70 * GiB)]), FakeGpu(gpu_uuid(1), used=50 * GiB)])
    home.write_job("nightly", "gpuagent-test/busybox:latest", ["true"], timeout="2h")
    now = time.time()
    record(
        home.root / "state" / "history.db",
        run_record("r-night", "nightly", "running", now - 600, took=None),
        # started first, ended last: the newest end
        run_record("r-long", "queue/long", "timed-out", now - 9000, took=8900, reason="ran past its timeout of 2h28m"),
        run_record("r-short", "nightly", "succeeded", now - 900, took=60),
    )
    with QueueStore(home.root / "state" / "queue.db") as store:
        store.add(
            [
                queue_entry("big", submitted_at=now - 300, need_gib=40),
                queue_entry("starter", submitted_at=now - 30, state=EntryState.STARTING, settings={"image": "img", "timeout": "30m"}),
            ]
        )
    return home


def test_a_frame_is_read_from_history_the_queue_and_the_gpus(home, monkeypatch):
    for name, value in home.env.items():
        if name.startswith("GPUAGENT_"):
            monkeypatch.setenv(name, value)
    frame = read_frame(resolve_paths(False))

    [busy, _] = frame.gpus.gpus
    assert busy.gpu.used_bytes == 70 * GiB and [process.pid for process in busy.processes] == [4_000_000]
    night, starter = frame.running
    assert (night.run_id, night.timeout) == ("r-night", 2 * 3600), "a job's run is held to its job file's timeout"
    assert (starter.run_id, starter.name, starter.started_at, starter.timeout) == ("starter", "queue/starter", None, 1800)
    [waiting] = [row for row in frame.queue.rows if row.position is not None]
    assert waiting.entry.id == "big" and "40GiB" in (waiting.why or "")
    assert [run.run_id for run in frame.ends] == ["r-long", "r-short"], "newest end first, running runs left out"


def test_piped_it_prints_one_frame_as_plain_text(home):
    result = CliRunner().invoke(app, ["--system", "top"], env=home.env)

    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.count("gpuagent top") == 1 and "\x1b[" not in text and "█" not in text
    assert "70GiB/80GiB" in text and "91%" in text and "other 70GiB" in text
    assert "r-night" in text and "queue (1 waiting)" in text and "queue/big" in text
    assert "r-long" in text and "timed-out" in text and "ran past its timeout of 2h28m" in text


@pytest.mark.parametrize("interval", ["0", "0s", "2h", "fast", "-1"])
def test_a_bad_interval_is_one_line_and_exit_2(home, interval):
    result = CliRunner().invoke(app, ["--system", "top", "--interval", interval], env=home.env)

    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --interval") and len(result.stderr.splitlines()) <= 2, result.stderr
