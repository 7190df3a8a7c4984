"""What the queue costs, side by side with its baselines in one run, in a booted systemd
(tests/support/systemd_box.py) with the host's dockerd and simulated GPUs (tests/gpu_sim):

1. the gap from a queued run's end to the next queued run's container running, on one
   simulated GPU that holds one run at a time, and its three parts (from the journal),
   against task-spooler (`tsp`, one slot; Debian's has no GPU option) and a shell loop
   running the same containers one after another;
2. N trivial queued runs end to end (one sweep submitted, until the last is recorded),
   as CPU runs (all may start at once) and as GPU runs (one at a time on each of two
   simulated GPUs, then on one), against the same N `docker run --rm IMAGE true` in a
   shell loop;
3. `gpuagent submit` as a whole process in the box (wall, CPU time, peak memory), then
   `gpuagent queue` (and --json), a dispatcher's pass and `submit` again with 1,000
   entries waiting (runs needing three GPUs of the two), and where `queue` spends its
   time, in process;
4. while those 1,000 wait: the gpuagent processes in the box and their memory, sampled
   across several passes of the dispatch timer, and the queue database's size.

    sudo .venv/bin/python bench/queue_dispatch.py [--runs 100] [--pairs 20] [--samples 15]

Root on a prepared host (`bash tests/setup-host.sh`: dockerd with the stub GPU hook, the
busybox image, the box's root filesystem). It installs task-spooler with apt if `tsp` is
missing, and falls back to the shell loop alone if that fails.

A container stamps its start and end from /proc/uptime (busybox's `date` has no
sub-second field; the kernel's boot clock is the same in every container, 10 ms steps).
Processes in the box are timed by a Python script run inside it, so nsenter's own start
is not counted; before each sample it waits for every gpuagent-dispatch@ unit to be idle, so
the dispatcher a submit starts does not slow the next sample.

Not a test: it prints numbers, it asserts nothing.
"""

import argparse
import compileall
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpuagent.host.historydb import HistoryStore  # noqa: E402
from gpuagent.runs.record import RunRecord  # noqa: E402
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402
from tests.support.systemd_box import SITE_IN_BOX, SRC_IN_BOX, SystemdBox  # noqa: E402

GPU_A, GPU_B = "GPU-0a0a0a0a-0000-4000-8000-00000000000a", "GPU-0b0b0b0b-0000-4000-8000-00000000000b"
SIM = "/run/gpu-sim"
HISTORY_IN_BOX = "var/lib/gpuagent/history.db"
STATE_IN_BOX = "var/lib/gpuagent"
# Each needs 16 GiB of a 24 GiB GPU: one such run at a time on each.
ONE_PER_GPU = ["--gpus", "1", "--min-free-vram", "16GiB"]
# Three GPUs on a host of two: it waits for ever, at no cost but its record.
NEVER_FITS = ["--gpus", "3"]
WAITING = 1000
MAX_SWEEP = 250  # runs per submit when filling the queue (one submit queues at most 256)
# The container's first and last action: the kernel's boot clock, read by shell builtins.
STAMP = "read t _ </proc/uptime; echo start $t; read t _ </proc/uptime; echo end $t"
DISPATCH_SERVICE = "gpuagent-dispatch@*.service"  # each submit's, and the timer's

GOALS = {
    "gap": 1.0,  # seconds, median
    "ratio": 1.5,
    "submit": 0.150,  # seconds, median
    "queue": 0.200,  # seconds, median
}

# Run inside the box by its python3: time whole processes, round by round, each case once a
# round after one warm round; before each, wait until no dispatcher is at work or queued. Prints
# {case: {"walls": [...], "cpus": [user + system seconds], "rss_kib": max RSS of its runs}}.
_TIMER = r"""
import json, os, subprocess, sys, time
spec = json.load(sys.stdin)
def systemctl(*args):
    return subprocess.run(["systemctl", *args], capture_output=True, text=True).stdout
def quiet():
    # a submit's `systemctl start --no-block` returns once the job is queued: wait for
    # the job as well as for the unit
    while spec["quiet_unit"].split("@")[0] in systemctl("list-jobs", "--no-legend") or systemctl(
        "list-units", "--no-legend", "--state=active,activating,deactivating", spec["quiet_unit"]
    ).strip():
        time.sleep(0.05)
found = {label: {"walls": [], "cpus": [], "rss_kib": 0} for label in spec["cases"]}
for round_ in range(spec["runs"] + 1):
    for label, argv in spec["cases"].items():
        quiet()
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        if status:
            sys.exit(f"{argv} failed ({status}): {child.stderr.read().decode()[-500:]}")
        child.stderr.close()
        if round_:
            found[label]["walls"].append(wall)
            found[label]["cpus"].append(usage.ru_utime + usage.ru_stime)
            found[label]["rss_kib"] = max(found[label]["rss_kib"], usage.ru_maxrss)
print(json.dumps(found))
"""

# Run inside the box: every `interval` s for `seconds` s, the gpuagent processes (python3
# -m gpuagent, or the wrapper script) and their resident memory, from /proc, and whether a
# dispatcher was at work meanwhile (a gpuagent-dispatch@ unit active before or after the
# look). Prints [[count, rss_kib, dispatcher_at_work, [args...]], ...].
_SAMPLER = r"""
import json, os, subprocess, sys, time
seconds, interval = float(sys.argv[1]), float(sys.argv[2])
def gpuagent(args):
    return any(a == "gpuagent" and i and args[i - 1] == "-m" for i, a in enumerate(args)) or any(a.endswith("/bin/gpuagent") for a in args[:2])
def dispatcher():
    listed = ["systemctl", "list-units", "--no-legend", "--plain", "--state=active,activating,deactivating", "gpuagent-dispatch@*.service"]
    return subprocess.run(listed, capture_output=True, text=True).stdout.split()
samples, deadline = [], time.monotonic() + seconds
while time.monotonic() < deadline:
    count, rss, seen = 0, 0, []
    before = dispatcher()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").split("\0")
            if not gpuagent(args):
                continue
            status = open(f"/proc/{pid}/status").read()
        except OSError:
            continue
        count += 1
        rss += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        seen.append(" ".join(args))
    after = dispatcher()
    samples.append([count, rss, bool(before or after), seen])
    time.sleep(interval)
print(json.dumps(samples))
"""


# Run inside the box by gpuagent's interpreter: where `gpuagent queue` spends its time, in
# process. Prints {step: seconds}.
_QUEUE_STEPS = r"""
import io, json, time
started = time.perf_counter()
import gpuagent.cli.app
app = time.perf_counter()
import gpuagent.cli.queue_commands
commands = time.perf_counter()
from gpuagent.core.paths import resolve_paths
from gpuagent.host.queuedb import QueueStore
from gpuagent.queue.standing import queue_view
from gpuagent.views import jsondoc, text
from gpuagent.views.screen import Screen
paths = resolve_paths()
with QueueStore(paths.queue_db) as store:
    store.entries()
read = time.perf_counter()
view = queue_view(paths)
viewed = time.perf_counter()
text.queue(Screen(file=io.StringIO(), terminal=False, width=200), view)
drawn = time.perf_counter()
jsondoc.dumps(jsondoc.queue(view))
dumped = time.perf_counter()
print(json.dumps({
    "importing the app (every command)": app - started,
    "importing the queue's commands and what they use": commands - app,
    "reading the entries (alone)": read - commands,
    "the queue's view (the entries, needs, GPUs, plan)": viewed - read,
    "drawing the table": drawn - viewed,
    "writing the JSON": dumped - drawn,
}))
"""


@dataclass
class QueueBox:
    """A booted box whose gpuagent (its units and its commands) reads the simulated GPUs."""

    box: SystemdBox
    env: dict[str, str]

    def agent(self, *args: str, timeout: float = 120) -> str:
        return self.box.exec(["gpuagent", *args], env=self.env, timeout=timeout).stdout

    def python(self, script: str, *args: str, spec: dict | None = None, timeout: float = 600):
        result = self.box.exec(["python3", "-c", script, *args], env=self.env, input=json.dumps(spec or {}), timeout=timeout)
        return json.loads(result.stdout)

    def in_process(self, script: str) -> dict:
        """`script`'s JSON, run by the interpreter and path the box's gpuagent command uses."""
        result = self.box.exec(["env", f"PYTHONPATH={SRC_IN_BOX}:{SITE_IN_BOX}", "python3", "-c", script], env=self.env)
        return json.loads(result.stdout)

    def finished(self, name: str, count: int, timeout: float) -> list[RunRecord]:
        """The runs of queue/NAME, once `count` have ended and the queue holds none of them."""
        deadline = time.monotonic() + timeout
        while True:
            done = [run for run in self.runs(name) if run.status != "running"]
            if len(done) >= count:
                return sorted(done, key=lambda run: run.started_at)
            if time.monotonic() > deadline:
                journal = self.box.exec(["journalctl", "--no-pager", "-n", "40"]).stdout
                raise SystemExit(f"only {len(done)} of {count} runs of queue/{name} ended in {timeout:.0f} s; the box's journal:\n{journal}")
            time.sleep(0.2)

    def runs(self, name: str) -> list[RunRecord]:
        path = self.box.root / HISTORY_IN_BOX
        if not path.exists():
            return []
        with HistoryStore(path, read_only=True) as store:
            return store.runs(f"queue/{name}", limit=100_000)

    def stamps(self, run_id: str) -> tuple[float, float]:
        return stamps(self.box.journal(f"gpuagent-queued@{run_id}.service"))[0]

    def unit_moments(self, run_id: str) -> tuple[float, float]:
        """When systemd started the run's unit and when its agent had admitted the run, on
        the clock the stamps read (the journal's monotonic time is the boot clock here:
        no suspend)."""
        unit = f"gpuagent-queued@{run_id}.service"
        lines = self.box.exec(["journalctl", "--no-pager", "-o", "json", "-u", unit]).stdout.splitlines()
        moments = [(int(entry["__MONOTONIC_TIMESTAMP"]) / 1e6, str(entry.get("MESSAGE", ""))) for entry in map(json.loads, lines)]
        starting = next(moment for moment, message in moments if message.startswith("Starting gpuagent-queued@"))
        admitted = next(moment for moment, message in moments if "admitted on" in message)
        return starting, admitted


def stamps(output: str) -> list[tuple[float, float]]:
    """(start, end) of each STAMP container in `output`, in order."""
    starts = [float(t) for t in re.findall(r"\bstart (\d+\.\d+)", output)]
    ends = [float(t) for t in re.findall(r"\bend (\d+\.\d+)", output)]
    return list(zip(starts, ends, strict=True))


def gaps(pairs: list[tuple[float, float]]) -> list[float]:
    """From each container's end to the next one's start."""
    return [after[0] - before[1] for before, after in itertools.pairwise(pairs)]


def sweep(count: int) -> list[str]:
    return ["--sweep", "i=" + ",".join(map(str, range(count)))]


# --- 1. from one run's end to the next one's start ------------------------------------------


@dataclass
class Gaps:
    """Each pair's gap, and its three parts: the ended run's agent recording it and
    dispatching (to systemd starting the next unit), the next agent starting and
    admitting its run, and its container being created and started."""

    total: list[float]
    to_unit: list[float]
    to_admitted: list[float]
    to_container: list[float]


def queued_gaps(qbox: QueueBox, gpu_host: FakeGpuHost, image: str, pairs: int) -> Gaps:
    gpu_host.update([FakeGpu(GPU_A, total=24 * GiB)])
    qbox.agent("submit", "--name", "gap", *ONE_PER_GPU, *sweep(pairs + 1), "--image", image, "--", "sh", "-c", STAMP)
    done = qbox.finished("gap", pairs + 1, timeout=60 + 10 * pairs)
    failed = [run for run in done if run.status != "succeeded"]
    if failed:
        raise SystemExit(f"{len(failed)} queued runs did not succeed: {failed[0].status} {failed[0].reason}")
    runs = [qbox.stamps(run.run_id) for run in done]
    moments = [qbox.unit_moments(run.run_id) for run in done[1:]]
    return Gaps(
        total=gaps(runs),
        to_unit=[starting - before[1] for before, (starting, _) in zip(runs[:-1], moments, strict=True)],
        to_admitted=[admitted - starting for starting, admitted in moments],
        to_container=[after[0] - admitted for after, (_, admitted) in zip(runs[1:], moments, strict=True)],
    )


def spooler_gaps(image: str, pairs: int, scratch: Path) -> list[float] | None:
    """The same containers through task-spooler, one slot: None if it cannot be had."""
    if not shutil.which("tsp"):
        install = ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "task-spooler"]
        if subprocess.run(install, capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}).returncode != 0:
            return None
    env = {**os.environ, "TS_SOCKET": str(scratch / "tsp.socket"), "TMPDIR": str(scratch), "TS_SLOTS": "1"}
    try:
        ids = [
            subprocess.run(
                ["tsp", "docker", "run", "--rm", image, "sh", "-c", STAMP], env=env, capture_output=True, text=True, check=True
            ).stdout.strip()
            for _ in range(pairs + 1)
        ]
        subprocess.run(["tsp", "-w", ids[-1]], env=env, capture_output=True, check=True, timeout=60 + 5 * pairs)
        outputs = [subprocess.run(["tsp", "-o", job], env=env, capture_output=True, text=True, check=True).stdout.strip() for job in ids]
        return gaps([stamps(Path(output).read_text())[0] for output in outputs])
    finally:
        subprocess.run(["tsp", "-K"], env=env, capture_output=True)


def loop_gaps(image: str, pairs: int) -> list[float]:
    loop = f'for i in $(seq {pairs + 1}); do docker run --rm {image} sh -c "$1"; done'
    return gaps(stamps(subprocess.run(["bash", "-c", loop, "bash", STAMP], capture_output=True, text=True, check=True).stdout))


# --- 2. N trivial runs end to end -------------------------------------------------------------


def queued_wall(qbox: QueueBox, gpu_host: FakeGpuHost, image: str, runs: int, name: str, gpu_options: list[str], gpus: int = 2) -> float:
    """From the submit of a sweep of `runs` runs of `true` to the last one's recorded end,
    on `gpus` simulated GPUs."""
    gpu_host.update([FakeGpu(GPU_A, total=24 * GiB), FakeGpu(GPU_B, total=24 * GiB)][:gpus])
    started = time.time()
    qbox.agent("submit", "--name", name, *gpu_options, *sweep(runs), "--image", image, "--", "true")
    done = qbox.finished(name, runs, timeout=120 + 5 * runs)
    failed = [run for run in done if run.status != "succeeded"]
    if failed:
        raise SystemExit(f"{len(failed)} of {name}'s queued runs did not succeed: {failed[0].status} {failed[0].reason}")
    return max(run.ended_at for run in done) - started


def loop_wall(image: str, runs: int) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", "-c", f"for i in $(seq {runs}); do docker run --rm {image} true; done"], check=True, capture_output=True)
    return time.perf_counter() - started


# --- 3 and 4. submit, queue, and 1,000 waiting entries -------------------------------------


def fill(qbox: QueueBox, image: str, have: int, want: int) -> None:
    while have < want:
        count = min(MAX_SWEEP, want - have)
        qbox.agent("submit", "--name", "waits", *NEVER_FITS, *sweep(count), "--image", image, "--", "true")
        have += count


def entries(qbox: QueueBox) -> int:
    return len(json.loads(qbox.agent("queue", "--json"))["entries"])


def queue_db_bytes(qbox: QueueBox) -> int:
    return sum(path.stat().st_size for path in (qbox.box.root / STATE_IN_BOX).glob("queue.db*"))


# --- printing -------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


def spread(samples: list[float]) -> str:
    return f"median {ms(statistics.median(samples)):>8}  (min {ms(min(samples))}, max {ms(max(samples))}, n={len(samples)})"


def verdict(value: float, goal: float) -> str:
    return "meets it" if value <= goal else "MISSES it"


def line(label: str, figure: str, goal: str = "") -> None:
    print(f"{label:<58} {figure}{f'   goal {goal}' if goal else ''}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20, help="gaps measured (runs one after another, less one)")
    parser.add_argument("--runs", type=int, default=100, help="trivial runs end to end")
    parser.add_argument("--samples", type=int, default=15, help="timed processes of each command")
    parser.add_argument("--image", default=None, help="default: the busybox test image")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the systemd box needs root")
    image = args.image or ensure_busybox_image()
    # as an installed package has them; the box sees the checkout read-only, so without
    # this a module edited since its last .pyc would be compiled afresh by every process
    compileall.compile_dir(REPO / "gpuagent", quiet=1)

    with tempfile.TemporaryDirectory(prefix="gpuagent-bench-") as scratch:
        gpu_host = FakeGpuHost(Path(scratch), [FakeGpu(GPU_A, total=24 * GiB)])
        binds = [(gpu_host.library.parent, "/opt/fake-nvml", True), (gpu_host.state_file.parent, SIM, True)]
        env = {"LD_LIBRARY_PATH": "/opt/fake-nvml", "FAKE_NVML_STATE": f"{SIM}/{gpu_host.state_file.name}", "COLUMNS": "200"}
        with SystemdBox(binds) as box:
            box.exec(["systemctl", "set-environment", *(f"{key}={value}" for key, value in env.items() if key != "COLUMNS")])
            qbox = QueueBox(box, env)
            subprocess.run(["docker", "run", "--rm", image, "true"], check=True, capture_output=True)  # warm the image's layers

            print("# 1. from a run's end to the next run's container running", flush=True)
            ours = queued_gaps(qbox, gpu_host, image, args.pairs)
            spooled = spooler_gaps(image, args.pairs, Path(scratch))
            looped = loop_gaps(image, args.pairs)
            line(
                "gpuagent queue (one GPU, one run at a time)",
                spread(ours.total),
                f"<= 1 s median: {verdict(statistics.median(ours.total), GOALS['gap'])}",
            )
            line("  the ended run's agent records it, dispatches", spread(ours.to_unit))
            line("  the next unit's agent starts, admits its run", spread(ours.to_admitted))
            line("  its container is created and started", spread(ours.to_container))
            if spooled is None:
                line("task-spooler (tsp, one slot)", "could not be installed")
            else:
                line("task-spooler (tsp, one slot), docker run --rm", spread(spooled))
            line("shell loop of docker run --rm", spread(looped))

            print(f"# 2. {args.runs} trivial runs end to end", flush=True)
            loop = loop_wall(image, args.runs)
            cpu = queued_wall(qbox, gpu_host, image, args.runs, "cpu", [])
            gpu = queued_wall(qbox, gpu_host, image, args.runs, "gpu", ONE_PER_GPU)
            one_gpu = queued_wall(qbox, gpu_host, image, args.runs, "onegpu", ONE_PER_GPU, gpus=1)
            line(f"shell loop of {args.runs} docker run --rm IMAGE true", f"{loop:6.1f} s")
            ratio = f"<= {GOALS['ratio']}x"
            line(
                f"{args.runs} queued CPU runs (one sweep; all may start at once)",
                f"{cpu:6.1f} s  {cpu / loop:5.2f}x",
                f"{ratio}: {verdict(cpu / loop, GOALS['ratio'])}",
            )
            line(
                f"{args.runs} queued GPU runs (one at a time on each of 2 GPUs)",
                f"{gpu:6.1f} s  {gpu / loop:5.2f}x",
                f"{ratio}: {verdict(gpu / loop, GOALS['ratio'])}",
            )
            line(f"{args.runs} queued GPU runs (one at a time on 1 GPU)", f"{one_gpu:6.1f} s  {one_gpu / loop:5.2f}x")

            print(f"# 3. submit, and the queue with {WAITING:,} entries waiting", flush=True)
            gpu_host.update([FakeGpu(GPU_A, total=24 * GiB), FakeGpu(GPU_B, total=24 * GiB)])
            submit = ["gpuagent", "submit", "--name", "waits", *NEVER_FITS, "--image", image, "--", "true"]
            floors = {"python3 -c pass": ["python3", "-c", "pass"], "gpuagent --help": ["gpuagent", "--help"]}
            small = {**floors, "submit": submit, "dispatch": ["gpuagent", "dispatch"]}
            few = qbox.python(_TIMER, spec={"cases": small, "runs": args.samples, "quiet_unit": DISPATCH_SERVICE})
            started = time.perf_counter()
            fill(qbox, image, entries(qbox), WAITING)
            filled = time.perf_counter() - started
            waiting = entries(qbox)
            steps = [qbox.in_process(_QUEUE_STEPS) for _ in range(args.samples)]
            cases = {"queue": ["gpuagent", "queue"], "queue --json": ["gpuagent", "queue", "--json"], "dispatch": ["gpuagent", "dispatch"]}
            full = qbox.python(_TIMER, spec={"cases": cases, "runs": args.samples, "quiet_unit": DISPATCH_SERVICE})

            print(f"# 4. while {waiting:,} entries wait", flush=True)
            samples = qbox.python(_SAMPLER, "25", "0.1")
            quiet = [sample for sample in samples if not sample[2]]
            db_bytes = queue_db_bytes(qbox)
            more = qbox.python(_TIMER, spec={"cases": {"submit": submit}, "runs": max(5, args.samples // 3), "quiet_unit": DISPATCH_SERVICE})
        print()

        def box_line(label: str, timed: dict, goal: float | None = None) -> None:
            walls = timed["walls"]
            verdicts = f"<= {ms(goal)} median: {verdict(statistics.median(walls), goal)}" if goal else ""
            cpu = f"cpu {ms(statistics.median(timed['cpus']))}, {timed['rss_kib'] / 1024:.0f} MiB"
            line(label, f"{spread(walls)}  {cpu}", verdicts)

        box_line("python3 -c pass in the box (the floor)", few["python3 -c pass"])
        box_line("gpuagent --help in the box", few["gpuagent --help"])
        box_line(f"gpuagent submit (queue of 0-{args.samples + 1} entries)", few["submit"], GOALS["submit"])
        box_line(f"gpuagent dispatch, a pass ({args.samples + 1}-{2 * args.samples + 2} waiting)", few["dispatch"])
        line(f"filling the queue to {waiting:,} entries ({MAX_SWEEP} a submit)", f"{filled:.1f} s")
        box_line(f"gpuagent queue ({waiting:,} waiting)", full["queue"], GOALS["queue"])
        box_line(f"gpuagent queue --json ({waiting:,} waiting)", full["queue --json"], GOALS["queue"])
        line("  where `queue` spends it, in process:", "")
        for step in steps[0]:
            line(f"  {step}", f"median {ms(statistics.median(sample[step] for sample in steps)):>8}")
        box_line(f"gpuagent dispatch, a timer's pass ({waiting:,} waiting)", full["dispatch"])
        box_line(f"gpuagent submit ({waiting:,}+ waiting)", more["submit"], GOALS["submit"])
        busy = [sample for sample in samples if sample[0]]
        line(
            "gpuagent processes, no dispatcher at work",
            f"{max((s[0] for s in quiet), default=0)} process(es), {max((s[1] for s in quiet), default=0) / 1024:.0f} MiB"
            f" (most of {len(quiet)} samples over 25 s)",
            f"none: {'meets it' if not any(s[0] for s in quiet) else 'MISSES it'}",
        )
        line(
            "gpuagent processes, any moment (the timer's passes)",
            f"in {len(busy)} of {len(samples)} samples; at most {max((s[0] for s in samples), default=0)}"
            f" process(es), {max((s[1] for s in samples), default=0) / 1024:.0f} MiB",
        )
        for args_seen in {tuple(sample[3]) for sample in quiet if sample[0]}:
            print(f"  seen with no dispatcher at work: {'; '.join(args_seen)}")
        line(f"queue.db on disk ({waiting:,} entries, with its -wal and -shm)", f"{db_bytes / 1024:.0f} KiB")
        print(f"# {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}; image {image}")


if __name__ == "__main__":
    main()
