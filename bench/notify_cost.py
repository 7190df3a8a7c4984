"""What notifications add to a run's end: announce_end with nothing configured (in
process), and in a fresh process each (as a run pays it once, with what `gpuagent run`
has loaded by its end): one json:// notification through Apprise (its import, its
plugins, the POST), one healthchecks-style ping (urllib), and both, to a receiver on
127.0.0.1; then Apprise's own steps in a fresh process.

    python bench/notify_cost.py [--runs 9]

Not a test: it prints medians, asserts nothing.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpuagent.core.paths import resolve_paths  # noqa: E402
from gpuagent.host.delivery import write_notify_file  # noqa: E402
from gpuagent.observe.announce import announce_end  # noqa: E402
from gpuagent.observe.notifications import NotifySettings, Target, notify_toml  # noqa: E402
from tests.support.records import run_record  # noqa: E402

# In the child: the moment before announce_end, and after; apprise's import is inside.
CHILD = """
import json, sys, time
import gpuagent.runs.runner, gpuagent.host.dockerd  # loaded by every `gpuagent run` before its end
from gpuagent.core.paths import resolve_paths
from gpuagent.observe.announce import announce_end
from tests.support.records import run_record
paths = resolve_paths(user_mode=False, env=json.loads(sys.argv[1]))
run = run_record("r1", "bench", "failed", time.time() - 60, log_tail="\\n".join(f"line {n}" for n in range(50)))
started = time.perf_counter()
announce_end(paths, "bench", run, 1, lambda line: print(line, file=sys.stderr))
print(time.perf_counter() - started)
"""


STEPS = """
import sys, time
import gpuagent.runs.runner, gpuagent.host.dockerd
started = time.perf_counter()
import apprise
imported = time.perf_counter()
notifier = apprise.Apprise()
notifier.add(sys.argv[1])
added = time.perf_counter()
assert notifier.notify(title="bench", body="bench")
sent = time.perf_counter()
print(f"  import apprise {(imported - started) * 1e3:.0f} ms, add (loads the plugins) {(added - imported) * 1e3:.0f} ms, notify {(sent - added) * 1e3:.0f} ms")
"""


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def scratch(root: Path, settings: NotifySettings | None) -> dict[str, str]:
    env = {f"GPUAGENT_{var}_DIR": str(root / var.lower()) for var in ("CONFIG", "UNIT", "STATE", "RUNTIME")}
    if settings is not None:
        write_notify_file(resolve_paths(user_mode=False, env=env).notify_file("bench"), notify_toml("bench", settings, "add bench"))
    return env


def in_child(env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(env)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert "not delivered" not in result.stderr, result.stderr
        samples.append(float(result.stdout))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        nothing = resolve_paths(user_mode=False, env=scratch(root / "nothing", None))
        run = run_record("r1", "bench", "failed", time.time() - 60)
        samples = []
        for _ in range(2000):
            started = time.perf_counter()
            announce_end(nothing, "bench", run, 1, print)
            samples.append(time.perf_counter() - started)
        print(f"announce_end, {'nothing configured (in process):':50} median {statistics.median(samples) * 1e6:8.1f} us")
        notify = scratch(root / "notify", NotifySettings((Target(f"json://127.0.0.1:{port}/hook"),)))
        ping = scratch(root / "ping", NotifySettings(ping=f"http://127.0.0.1:{port}/ping/uuid"))
        both = scratch(root / "both", NotifySettings((Target(f"json://127.0.0.1:{port}/hook"),), f"http://127.0.0.1:{port}/ping/uuid"))
        in_child(notify, 1)  # .pyc files, page cache
        for label, env in (("one json:// notification", notify), ("one ping", ping), ("a notification and a ping", both)):
            samples = in_child(env, args.runs)
            print(f"announce_end, {label + ' (fresh process):':50} median {statistics.median(samples) * 1e3:8.1f} ms")
        steps = subprocess.run([sys.executable, "-c", STEPS, f"json://127.0.0.1:{port}/hook"], capture_output=True, text=True, check=True)
        print(steps.stdout, end="")
    server.shutdown()


if __name__ == "__main__":
    main()
