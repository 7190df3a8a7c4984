"""What monitoring costs a run: `gpuagent run` of a job whose container runs `true`, with
nothing to tell, with metrics files to write, and with metrics plus a notification to a
local json:// receiver (the job is told to notify on success), interleaved, as medians and
the difference to the baseline; and, without docker's noise, what a run's end spends
writing metrics, timed inside a fresh process that has loaded what a run has
(bench/metrics_write.py compares the write with another checkout's).

    python bench/monitoring_cost.py [--runs 11] [--image gpuagent-test/busybox:latest]

Needs a running dockerd and the image (tests/setup-host.sh builds it). Not a test: it
prints numbers, asserts nothing.
"""

import argparse
import http.server
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.agent_runs import compare_runs  # noqa: E402
from tests.support.agent import AgentHome  # noqa: E402


class _Receiver(http.server.BaseHTTPRequestHandler):
    received = 0

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def home_for(directory: Path, image: str, config: str, notify: str | None = None) -> AgentHome:
    home = AgentHome(directory)
    home.write_job("bench", image, ["true"])
    (directory / "config" / "gpuagent.toml").write_text(config)
    if notify:
        (directory / "config" / "notify.toml").write_text(notify)
        (directory / "config" / "notify.toml").chmod(0o600)
    return home


_REFRESH = """
import sys, time
import gpuagent.runs.runner  # what a run has loaded by its end
from gpuagent.core.paths import resolve_paths
started = time.perf_counter()
from gpuagent.observe.metrics import refresh
refresh(resolve_paths(user_mode=False), print, jobs=["bench"])
print(time.perf_counter() - started)
"""


def refresh_cost(home: AgentHome, runs: int) -> None:
    samples = []
    for _ in range(runs + 1):
        result = subprocess.run([sys.executable, "-c", _REFRESH], env=home.env, cwd=home.root, check=True, capture_output=True, text=True)
        samples.append(float(result.stdout.split()[-1]))
    print(f"metrics at a run's end, in a fresh process:    median {statistics.median(samples[1:]) * 1e3:7.1f} ms (history, timer, files)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--image", default="gpuagent-test/busybox:latest")
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        unwritten = "[metrics]\nenabled = false\n"
        written = f'[metrics]\ntextfile_dir = "{root}/textfiles"\n'
        notify = f'[[notify]]\nurl = "json://127.0.0.1:{server.server_port}/hook"\non = ["success"]\n'
        homes = {
            "nothing to tell (baseline)": home_for(root / "a", args.image, unwritten),
            "metrics files written": home_for(root / "b", args.image, written),
            "metrics + one notification": home_for(root / "c", args.image, written, notify),
        }
        compare_runs(homes, args.runs)
        print(f"notifications received: {_Receiver.received} (expected {args.runs + 1})")
        refresh_cost(homes["metrics files written"], args.runs)
    server.shutdown()


if __name__ == "__main__":
    main()
