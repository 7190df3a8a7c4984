"""`gpuagent top` in a real terminal: tmux, 80x24, as over SSH. The agent runs as its own
process in a scratch home, on the simulated NVML, with history rows and queue entries
written through the real stores; the test reads the screen tmux shows, changes the
GPUs under it, and quits with q and with Ctrl-C."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gpuagent.host.queuedb import QueueStore
from gpuagent.runs.record import Status
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import AgentHome
from tests.support.queue_entries import gpu_uuid, queue_entry
from tests.support.records import record, run_record
from tests.support.terminal import EXITED, Tmux

WIDTH, HEIGHT = 80, 24
TRAINER_PID = 4_000_001  # a process on GPU 0 that no container owns: `other`


def gpus_at(used_gib: int, util: int) -> list[FakeGpu]:
    return [
        FakeGpu(gpu_uuid(0), used=used_gib * GiB, util=util, processes=[(TRAINER_PID, used_gib * GiB)]),
        FakeGpu(gpu_uuid(1), used=50 * GiB, util=5),
    ]


@pytest.fixture
def home(tmp_path) -> AgentHome:
    home = AgentHome(tmp_path / "agent")
    home.write_job("nightly", "gpuagent-test/busybox:latest", ["true"], timeout="2h")
    now = time.time()
    record(
        home.root / "state" / "history.db",
        run_record("r-night", "nightly", Status.RUNNING, now - 570, took=None),
        run_record("r-done", "nightly", Status.SUCCEEDED, now - 4000, took=300),
        run_record("r-oom", "queue/probe", Status.OOM_KILLED, now - 3000, took=20, reason="killed by the kernel: out of memory"),
    )
    with QueueStore(home.root / "state" / "queue.db") as store:
        # neither fits a GPU (the best has 70GiB free): both wait, and say why
        store.add([queue_entry("big", submitted_at=now - 300, need_gib=72), queue_entry("bigger", submitted_at=now - 200, need_gib=75)])
    return home


@pytest.fixture
def gpus(tmp_path) -> FakeGpuHost:
    return FakeGpuHost(tmp_path, gpus_at(used_gib=10, util=20))


@pytest.fixture
def terminal(tmp_path, home, gpus):
    opened = []

    def open_top(*args: str) -> Tmux:
        tmux = Tmux(tmp_path, {**home.env, **gpus.env()}, home.command("top", *args), width=WIDTH, height=HEIGHT)
        opened.append(tmux)
        return tmux

    yield open_top
    for tmux in opened:
        tmux.close()


def seconds(shown: str) -> int:
    """A duration as the view shows it (45s, 3m05s, 1h02m) in seconds."""
    return sum(int(number) * {"h": 3600, "m": 60, "s": 1}[unit] for number, unit in re.findall(r"(\d+)([hms])", shown))


def gpu_line(screen: str, index: int) -> str:
    [line] = [line for line in screen.splitlines() if re.match(rf"{index}\s+\S+ \d+GiB/80GiB", line)]
    return line


def left_usable(tmux: Tmux, status: int) -> None:
    """The agent exited with `status`, leaving the terminal as it found it: the main
    screen back, the cursor shown, keys echoed and read by lines again."""
    screen = tmux.wait_exited()
    assert f"{EXITED} {status}]" in screen
    assert "gpuagent top" not in screen, "the frame stays on the alternate screen, which is gone"
    assert tmux.pane("alternate_on") == "0" and tmux.pane("cursor_flag") == "1"
    settings = screen.split(EXITED, 1)[1].split()
    assert "icanon" in settings and "echo" in settings, screen
    assert tmux.pane("pane_current_command") == "sleep", "the agent is gone: the pane runs what came after it"
    assert tmux.agent_stderr() == ""


def test_the_view_fits_80x24_refreshes_and_q_quits(terminal, gpus, home):
    tmux = terminal("--interval", "1")
    screen = tmux.wait_screen("ended, newest first")

    assert tmux.pane("alternate_on") == "1"
    lines = screen.splitlines()
    assert len(lines) <= HEIGHT and max(map(len, lines)) <= WIDTH
    assert "GPUs (2 × H100 80GB HBM3, driver 550.54.15)" in screen
    assert "10GiB/80GiB" in gpu_line(screen, 0) and "20%" in gpu_line(screen, 0) and "other 10GiB" in gpu_line(screen, 0)
    [night] = [line for line in lines if line.startswith("r-night ")]
    _, name, elapsed, left = night.split()
    assert name == "nightly" and 7200 - 60 < seconds(elapsed) + seconds(left) <= 7200, "elapsed, and what is left of its 2h timeout"
    assert "queue (2 waiting)" in screen
    [big] = [line for line in lines if "queue/big " in line]
    assert big.startswith("1 ") and "needs 1 GPU" in big, "first in the queue, and why it waits"
    assert "r-oom" in screen and "oom-killed" in screen

    gpus.update(gpus_at(used_gib=60, util=77))
    screen = tmux.wait_screen("60GiB/80GiB")
    assert "77%" in gpu_line(screen, 0) and "other 60GiB" in gpu_line(screen, 0)
    with QueueStore(home.root / "state" / "queue.db") as store:
        store.add([queue_entry("late", submitted_at=time.time(), need_gib=70)])
    assert "queue (3 waiting)" in tmux.wait_screen("queue/late")

    tmux.keys("q")
    left_usable(tmux, 0)


def test_ctrl_c_quits_and_restores_the_terminal(terminal):
    tmux = terminal()
    tmux.wait_screen("every 2s, q quits")

    tmux.keys("C-c")
    left_usable(tmux, 130)


def test_sigterm_ends_it_as_q_does(terminal):
    tmux = terminal()
    tmux.wait_screen("every 2s, q quits")
    shell = tmux.pane("pane_pid")  # the pane's shell; the agent is its one child
    [agent] = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()

    os.kill(int(agent), signal.SIGTERM)
    left_usable(tmux, 128 + signal.SIGTERM)


def test_piped_it_prints_one_frame_and_exits(home, gpus):
    result = subprocess.run(home.command("top"), env={**home.env, **gpus.env()}, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.count("gpuagent top") == 1 and "\x1b[" not in result.stdout
    assert "10GiB/80GiB" in result.stdout and "queue/bigger" in result.stdout


def test_a_bad_interval_says_so_in_one_line(home):
    result = home.run("top", "--interval", "2h")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0] == "error: --interval: '2h' is not between 1s and 1h"
