"""A scratch gpuagent installation for tests: its own config, state and runtime
directories (through the GPUAGENT_*_DIR overrides), jobs written through the same code
`gpuagent add` uses, and `gpuagent` run as a real subprocess."""

import os
import subprocess
import sys
import time
from pathlib import Path

from gpuagent.host.files import write_atomic
from gpuagent.host.historydb import HistoryStore
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.jobfile import job_to_toml
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.runs.record import RunRecord

REPO = Path(__file__).resolve().parents[2]


class AgentHome:
    def __init__(self, root: Path, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = {**os.environ, "PYTHONPATH": str(REPO), **(extra_env or {})}
        for var in ("CONFIG", "UNIT", "PACKAGE_UNIT", "STATE", "RUNTIME"):
            directory = root / var.lower()
            directory.mkdir(parents=True, exist_ok=True)
            self.env[f"GPUAGENT_{var}_DIR"] = str(directory)
        # node_exporter's directory, there as if node_exporter were installed: runs write
        # their metrics here, never in this host's own
        (root / "textfiles").mkdir(exist_ok=True)
        self.env["GPUAGENT_TEXTFILE_DIR"] = str(root / "textfiles")
        self.env.pop("INVOCATION_ID", None)

    def write_job(self, name: str, image: str, command: list[str], schedule: dict[str, str] | None = None, **options) -> Path:
        """The job file `add` would write (no timer); `schedule` as parse_schedule takes it (default: at 02:00)."""
        job = job_from_options(name, parse_schedule(**(schedule or {"at": "02:00"})), dict(image=image, command=command, **options))
        path = self.root / "config" / "jobs" / f"{name}.toml"
        write_atomic(path, job_to_toml(job))
        return path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gpuagent", "--system", *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), env=self.env, capture_output=True, text=True, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def runs(self, job: str | None = None) -> list[RunRecord]:
        with HistoryStore(self.root / "state" / "history.db") as store:
            return store.runs(job, limit=100)

    def last_run(self, job: str) -> RunRecord:
        runs = self.runs(job)
        assert runs, f"no run of {job} recorded"
        return runs[0]


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
