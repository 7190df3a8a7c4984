"""A real node_exporter and a real Prometheus for tests, on 127.0.0.1 and free ports.

    with node_exporter(textfile_dir) as exporter, prometheus(tmp_path / "prom", targets=[exporter.address]) as prom:
        prom.wait_for_scrape()
        prom.query('gpuagent_job_consecutive_failures{job_name="nightly"}')
        prom.wait_for_alert("GpuagentJobFailing", job_name="nightly")

Both come from Debian's packages (tests/setup-host.sh installs them), started by hand and
stopped by PID when the block ends. Prometheus scrapes and evaluates every second and
loads the shipped rules (monitoring/prometheus/gpuagent-rules.yml) unless told otherwise;
its config, TSDB and log live in the directory it is given. HTTP goes through urllib
with no proxy (a proxy from the environment must not see 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.agent import wait_for
from tests.support.cache import REPO
from tests.support.processes import stop_process

RULES = REPO / "monitoring/prometheus/gpuagent-rules.yml"
RULES_TEST = REPO / "monitoring/prometheus/gpuagent-rules.test.yml"
DASHBOARD = REPO / "monitoring/grafana/gpuagent-dashboard.json"
SCRAPE_JOB = "node"  # the `job` label of what Prometheus scrapes from node_exporter

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it
_READY_TIMEOUT = 30.0


def binary(*names: str) -> str:
    """The path of the first of `names` on PATH; a test fails (never skips) without it."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(f"{' / '.join(names)} is not installed: run `sudo tests/setup-host.sh` (it installs Debian's prometheus packages)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET; an HTTP error status is returned, not raised."""
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _answers(url: str) -> bool:
    try:
        return http_get(url, timeout=1.0)[0] == 200
    except (urllib.error.URLError, OSError):
        return False


class _Daemon:
    """One process, its log in a file; stopped by its PID."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args, self.log = args, log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until_ready(self, url: str) -> bool:
        """True once `url` answers 200; False when the process exited first (its log
        says why). Raises when it neither answers nor exits in time."""
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if _answers(url):
                return True
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.args[0]} did not answer {url} within {_READY_TIMEOUT:.0f}s; its log:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)


def _start(make_args, ready_path: str, log: Path) -> tuple[_Daemon, str]:
    """Start a daemon on a free port (trying another when the port was taken meanwhile)."""
    for _ in range(_START_ATTEMPTS):
        address = f"127.0.0.1:{free_port()}"
        daemon = _Daemon(make_args(address), log)
        if daemon.wait_until_ready(f"http://{address}{ready_path}"):
            return daemon, address
        if "address already in use" not in daemon.log_tail().lower():
            break
    raise AssertionError(f"{daemon.args[0]} exited with status {daemon.process.returncode}; its log:\n{daemon.log_tail()}")


# -- node_exporter ------------------------------------------------------------------


@dataclass
class NodeExporter:
    address: str  # "127.0.0.1:PORT", a scrape target
    textfile_dir: Path
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def metrics(self) -> str:
        """What a scrape gets now (exposition text)."""
        status, body = http_get(f"{self.url}/metrics")
        assert status == 200, f"node_exporter answered {status}: {body[:500]!r}"
        return body.decode()


@contextlib.contextmanager
def node_exporter(textfile_dir: Path, log: Path | None = None) -> Iterator[NodeExporter]:
    """node_exporter with only its textfile collector, reading `textfile_dir` (the
    *.prom files directly in it) at every scrape. Its log goes to `log` (default: beside
    the directory, node_exporter.log)."""
    textfile_dir = Path(textfile_dir)
    program = binary("prometheus-node-exporter", "node_exporter")
    log = log or textfile_dir.parent / "node_exporter.log"

    def args(address: str) -> list[str]:
        return [
            program,
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={textfile_dir}",
            f"--web.listen-address={address}",
        ]

    daemon, address = _start(args, "/metrics", log)
    try:
        yield NodeExporter(address=address, textfile_dir=textfile_dir, pid=daemon.pid)
    finally:
        daemon.stop()


# -- Prometheus ---------------------------------------------------------------------


class QueryError(AssertionError):
    def __init__(self, expr: str, error_type: str, error: str) -> None:
        super().__init__(f"{error_type}: {error} (in {expr!r})")
        self.expr, self.error_type, self.error = expr, error_type, error


@dataclass
class Prometheus:
    address: str  # "127.0.0.1:PORT"
    directory: Path  # config, TSDB and log
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def api(self, path: str, **params: str) -> dict:
        """The decoded JSON answer of /api/v1/PATH, errors included ({"status": "error",
        "errorType": "bad_data", "error": ...} for an expression that does not parse)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = http_get(f"{self.url}/api/v1/{path}{query}")
        try:
            return json.loads(body)
        except ValueError:
            raise AssertionError(f"Prometheus answered {status} to {path}, not JSON: {body[:500]!r}") from None

    def query(self, expr: str) -> list[dict]:
        """The result of an instant query now: a list of {"metric": {labels}, "value":
        [time, "value"]} for a vector (for a scalar or string: [[time, "value"]]).
        Raises QueryError, with its errorType, when Prometheus refuses it."""
        answer = self.api("query", query=expr)
        if answer.get("status") != "success":
            raise QueryError(expr, answer.get("errorType", "?"), answer.get("error", json.dumps(answer)))
        data = answer["data"]
        return data["result"] if data["resultType"] in ("vector", "matrix") else [data["result"]]

    def values(self, expr: str) -> dict[str, float]:
        """An instant query of series that carry job_name, as {job_name: value}."""
        out = {}
        for sample in self.query(expr):
            assert "job_name" in sample["metric"], f"{expr!r} gave a series without job_name: {sample['metric']}"
            out[sample["metric"]["job_name"]] = float(sample["value"][1])
        return out

    def alerts(self) -> list[dict]:
        """Every active alert (pending or firing): {"labels", "annotations", "state",
        "activeAt", "value"}."""
        return self.api("alerts")["data"]["alerts"]

    def alert(self, name: str, state: str | None = None, **labels: str) -> dict | None:
        """The first active alert `name` whose labels include `labels` (and in `state`:
        "pending" or "firing", when given), or None."""
        for alert in self.alerts():
            if alert["labels"].get("alertname") != name or (state and alert["state"] != state):
                continue
            if all(alert["labels"].get(key) == value for key, value in labels.items()):
                return alert
        return None

    def wait_for_alert(self, name: str, state: str = "firing", timeout: float = 60, **labels: str) -> dict:
        return wait_for(lambda: self.alert(name, state, **labels), timeout=timeout, interval=0.2, what=f"alert {name} {labels} {state}")

    def wait_for_query(self, expr: str, timeout: float = 30) -> list[dict]:
        """The result of `expr` once it is not empty."""
        return wait_for(lambda: self.query(expr), timeout=timeout, interval=0.2, what=f"a result of {expr!r}")

    def targets(self) -> list[dict]:
        return self.api("targets", state="active")["data"]["activeTargets"]

    def wait_for_scrape(self, timeout: float = 30) -> list[dict]:
        """Every target once each has been scraped successfully (health "up")."""

        def all_up():
            targets = self.targets()
            return targets if targets and all(t["health"] == "up" for t in targets) else None

        return wait_for(all_up, timeout=timeout, interval=0.2, what="every target scraped")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join((self.directory / "prometheus.log").read_text(errors="replace").splitlines()[-lines:])


def prometheus_config(targets: Sequence[str] | Mapping[str, str], rule_files: Sequence[Path], interval: str = "1s") -> dict:
    """prometheus.yml as data (written as JSON, which is YAML): one scrape job of the
    `targets` (node_exporters), `rule_files` evaluated at the same interval. `targets`
    as a mapping gives each address the instance label it maps to: the host's name, as
    the scrape config docs/monitoring.md shows does."""
    if isinstance(targets, Mapping):
        configs = [{"targets": [address], "labels": {"instance": instance}} for address, instance in targets.items()]
    else:
        configs = [{"targets": list(targets)}]
    scrape = [{"job_name": SCRAPE_JOB, "static_configs": configs}] if targets else []
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
        "rule_files": [str(Path(path).resolve()) for path in rule_files],
        "scrape_configs": scrape,
    }


@contextlib.contextmanager
def prometheus(
    directory: Path,
    targets: Sequence[str] | Mapping[str, str] = (),
    rule_files: Sequence[Path] = (RULES,),
    interval: str = "1s",
) -> Iterator[Prometheus]:
    """Prometheus scraping `targets` ("HOST:PORT" of node_exporters, job "node") and
    evaluating `rule_files` every `interval`; its config (prometheus.yml), TSDB (data/)
    and log (prometheus.log) in `directory`, which must not be shared with another."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    config.write_text(json.dumps(prometheus_config(targets, rule_files, interval), indent=2) + "\n")
    program = binary("prometheus")

    def args(address: str) -> list[str]:
        return [
            program,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={address}",
            f"--web.console.templates={directory / 'consoles'}",
            f"--web.console.libraries={directory / 'console_libraries'}",
        ]

    daemon, address = _start(args, "/-/ready", directory / "prometheus.log")
    try:
        yield Prometheus(address=address, directory=directory, pid=daemon.pid)
    finally:
        daemon.stop()
