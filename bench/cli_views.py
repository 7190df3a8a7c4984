"""How fast the read commands answer: `gpuagent --help`, `status` and `history --limit 50`
with 50 jobs and 100,000 history rows, then 1,000,000; median wall time and peak memory
(max RSS) of each command, run as a fresh process, as people run it.

    .venv/bin/python bench/cli_views.py [--runs 15] [--rows 100000,1000000] [--systemd-box]

Run it with the project's dependencies (.venv, made by tests/run.sh): it times whatever
`typer` the interpreter has. Output is piped, so the commands print plain text; the
"(on a terminal)" rows give them a 160-column pseudo-terminal instead. --systemd-box also
times `status` inside a booted systemd (tests/support/systemd_box.py, root only), where it
asks systemctl about the 50 timers; a host without systemd has none to ask.
Cases run round by round, and each round is all cases once, so load elsewhere on the
host spreads over all of them; the min column is the least disturbed run.

Not a test: it prints numbers, it asserts nothing.
"""

import argparse
import compileall
import fcntl
import itertools
import os
import pty
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpuagent.host.files import write_atomic  # noqa: E402
from gpuagent.host.historydb import HistoryStore  # noqa: E402
from gpuagent.jobs.job import job_from_options  # noqa: E402
from gpuagent.jobs.jobfile import job_to_toml  # noqa: E402
from gpuagent.jobs.schedule import parse_schedule  # noqa: E402

JOBS = 50
STATUSES = ("succeeded",) * 8 + ("failed", "oom-killed", "skipped-vram", "error")
SCHEDULES = [dict(at="02:00"), dict(every="6h"), dict(cron="0 3 * * 1-5"), dict(on="Sun *-*-* 04:00")]


def make_home(root: Path, rows: int) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for var in ("CONFIG", "UNIT", "STATE", "RUNTIME"):
        (root / var.lower()).mkdir(parents=True, exist_ok=True)
        env[f"GPUAGENT_{var}_DIR"] = str(root / var.lower())
    for number in range(JOBS):
        name = f"job{number:02d}"
        job = job_from_options(
            name,
            parse_schedule(**SCHEDULES[number % len(SCHEDULES)]),
            dict(image="pytorch/pytorch:2.9.0", command=["python", "train.py"], gpus=number % 2),
        )
        write_atomic(root / "config" / "jobs" / f"{name}.toml", job_to_toml(job))
    fill_history(root / "state" / "history.db", rows)
    return env


def fill_history(path: Path, rows: int) -> None:
    """`rows` runs over the 50 jobs, one every 5 minutes up to now: the schema and indexes
    are HistoryStore's own; the rows go in with one bulk insert (a real history grows a
    run at a time, which only takes longer to make)."""
    HistoryStore(path).close()
    now = time.time()
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO runs (run_id, job, agent_pid, started_at, ended_at, status, exit_code, reason, gpu_uuids, image, peak_vram_bytes)"
            " VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, 'pytorch/pytorch:2.9.0', ?)",
            (
                (
                    f"{n:012x}",
                    f"job{n % JOBS:02d}",
                    now - (rows - n) * 300.0,
                    now - (rows - n) * 300.0 + 240,
                    STATUSES[n % len(STATUSES)],
                    0 if STATUSES[n % len(STATUSES)] == "succeeded" else 1,
                    "exit 0" if STATUSES[n % len(STATUSES)] == "succeeded" else "exit 1",
                    "GPU-aaaaaaaa-0000-0000-0000-000000000000" if n % 2 else "",
                    (n % 80) << 30 if n % 2 else None,
                )
                for n in range(rows)
            ),
        )
    db.close()


@dataclass
class Timing:
    """One command's runs: wall seconds of each, and the largest max-RSS in MiB."""

    walls: list[float] = field(default_factory=list)
    peak_mib: float = 0.0

    def cells(self) -> str:
        return f"{statistics.median(self.walls) * 1000:>10.0f}{min(self.walls) * 1000:>8.0f}{self.peak_mib:>10.1f}"


def run_once(command: list[str], env: dict[str, str], timing: Timing, terminal: bool = False) -> None:
    """One fresh process. Its memory comes from /usr/bin/time: a child forked from this
    (larger) process would count this process's pages until it execs."""
    with tempfile.NamedTemporaryFile("r") as report:
        leader, follower = _terminal() if terminal else (None, None)
        started = time.perf_counter()
        process = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", report.name, *command],
            env=env,
            stdout=follower if terminal else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if terminal:
            os.close(follower)
            _drain(leader)
        status = process.wait()
        timing.walls.append(time.perf_counter() - started)
        if status not in (0, 1):
            raise SystemExit(f"{' '.join(command)} exited {status}")
        timing.peak_mib = max(timing.peak_mib, int(report.read().split()[-1]) / 1024)


def _terminal() -> tuple[int, int]:
    """A pseudo-terminal TERMINAL_SIZE big, as a terminal window would be (a fresh pty
    is 0 x 0, which reads as 80 columns)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", *reversed(TERMINAL_SIZE), 0, 0))
    return leader, follower


def _drain(leader: int) -> None:
    """Read the terminal until the command closes it, or a long output would block it."""
    try:
        while os.read(leader, 65536):
            pass
    except OSError:
        pass
    os.close(leader)


def gpuagent(*args: str) -> list[str]:
    return [sys.executable, "-m", "gpuagent", "--system", *args]


CASES = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "gpuagent --help": gpuagent("--help"),
    "gpuagent status": gpuagent("status"),
    "gpuagent status --json": gpuagent("status", "--json"),
    "gpuagent history --limit 50": gpuagent("history", "--limit", "50"),
    "gpuagent history --limit 50 --json": gpuagent("history", "--limit", "50", "--json"),
    "gpuagent history job07 --status failed -n 50": gpuagent("history", "job07", "--status", "failed", "--limit", "50"),
    "gpuagent history --since 1d -n 50": gpuagent("history", "--since", "1d", "--limit", "50"),
}
ON_A_TERMINAL = ("gpuagent --help", "gpuagent status", "gpuagent history --limit 50")
TERMINAL_SIZE = (160, 48)  # columns, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rows", default="100000,1000000", help="history sizes, comma-separated")
    parser.add_argument("--systemd-box", action="store_true", help="also time status in a booted systemd (root)")
    options = parser.parse_args()
    sizes = [int(size) for size in options.rows.split(",")]

    # as an installed package has them (pip byte-compiles on install); this sandbox sets
    # PYTHONDONTWRITEBYTECODE, so without this every run would compile gpuagent afresh
    compileall.compile_dir(REPO / "gpuagent", quiet=1)
    with tempfile.TemporaryDirectory(prefix="gpuagent-bench-") as scratch:
        homes = {}
        for size in sizes:
            started = time.perf_counter()
            homes[size] = make_home(Path(scratch) / f"rows-{size}", size)
            print(f"# {JOBS} jobs, {size:,} history rows: made in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        cases = [(label, command, False) for label, command in CASES.items()]
        cases += [(f"{label} (on a terminal)", CASES[label], True) for label in ON_A_TERMINAL]
        timings = {(label, size): Timing() for label, _, _ in cases for size in sizes}
        # Round by round, every case once a round: a burst of load elsewhere on the host
        # slows one round of all of them, not all runs of one. The first round warms caches.
        for round_number in range(options.runs + 1):
            for (label, command, terminal), size in itertools.product(cases, sizes):
                run_once(command, homes[size], Timing() if round_number == 0 else timings[label, size], terminal)
        box_line = status_in_box(options.runs, sizes[0]) if options.systemd_box else None

    print(f"{'command':<46}" + "".join(f"{f'{size:,} rows':>28}" for size in sizes))
    print(f"{'':<46}" + f"{'median ms':>10}{'min ms':>8}{'peak MiB':>10}" * len(sizes))
    for label, _, _ in cases:
        print(f"{label:<46}" + "".join(timings[label, size].cells() for size in sizes))
    if box_line:
        print(box_line)
    import typer

    print(
        f"# {options.runs} runs each; python {sys.version.split()[0]}, typer {typer.__version__}; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f}; "
        f"systemd on this host: {'yes' if os.path.isdir('/run/systemd/system') else 'no (status cannot ask systemctl here)'}"
    )


def status_in_box(runs: int, rows: int) -> str:
    """`gpuagent status` inside a booted systemd with 50 enabled timers: the one
    `systemctl show` for all of them included. nsenter's own cost is measured and taken off."""
    from tests.support.systemd_box import SystemdBox

    with SystemdBox() as box:
        for number in range(JOBS):
            schedule = SCHEDULES[number % len(SCHEDULES)]
            [(kind, value)] = schedule.items()
            box.exec(["gpuagent", "add", f"job{number:02d}", f"--{kind}", value, "--image", "pytorch/pytorch:2.9.0", "--", "true"])
        fill_history(box.root / "var/lib/gpuagent/history.db", rows)
        enter = ["nsenter", f"--target={box.leader}", "--all", "--"]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        floor, status = Timing(), Timing()
        for _ in range(runs + 1):
            run_once([*enter, "true"], env, floor)
            run_once([*enter, "gpuagent", "status"], env, status)
    nsenter = statistics.median(floor.walls)
    status.walls = [wall - nsenter for wall in status.walls[1:]]
    return f"{f'gpuagent status in a systemd box ({rows:,} rows)':<46}{status.cells()}   (nsenter's {nsenter * 1000:.0f} ms taken off)"


if __name__ == "__main__":
    main()
