"""A booted box on two simulated GPUs for the queue's end-to-end tests, and what those tests
read from it: `gpuagent queue --json`, the history of queued runs, gpuagent processes,
systemd units, the claims on GPU memory.

The simulated NVML's library and state file are bound into the box; its manager's
default environment points every unit (the dispatcher, each queued run's agent) at them,
from a drop-in, so a box booted again after a power cut sees the same GPUs.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from gpuagent.host.historydb import HistoryStore
from gpuagent.runs.record import RunRecord
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import wait_for
from tests.support.boxed import SYSTEM_HISTORY, booted
from tests.support.systemd_box import BoxError, SystemdBox, _remove_cgroup, ensure_site

GPU_A = "GPU-5a5a5a5a-0000-4000-8000-00000000005a"
GPU_B = "GPU-5b5b5b5b-0000-4000-8000-00000000005b"
GPU_TOTAL = 24 * GiB
SIM_IN_BOX = "/run/gpu-sim"
NVML_IN_BOX = "/opt/fake-nvml"
HOST_CONFIG = "/etc/gpuagent/gpuagent.toml"
_MANAGER_ENV = "/etc/systemd/system.conf.d/50-simulated-gpus.conf"
# The box's python, over the checkout, for reading the box's own runtime state with
# gpuagent's code (the claims live in the box's /run, which the host does not see).
_BOX_PYTHON = ["env", "PYTHONPATH=/opt/gpuagent-src:/opt/gpuagent-site", "python3", "-c"]


class PoweredBox(SystemdBox):
    """A SystemdBox that boots again over the same disk (its overlay's upper dir: /etc,
    /var), with a fresh /run: after a power cut, or a reboot asked of its systemd."""

    def power_cycle(self) -> None:
        """Every process in the box killed at once, as a host losing power (the containers
        it asked the host's dockerd for live on), then switched on again."""
        nspawn = self._switch_off()
        # Killing the box's cgroups kills nspawn with the rest.
        for cgroup in self._cgroups:
            _remove_cgroup(cgroup, time.monotonic() + 10)
        nspawn.wait(timeout=30)
        self._switch_on()

    def reboot(self, off_until: float | None = None) -> None:
        """`systemctl reboot` in the box: its systemd stops every unit, nspawn exits; then
        it boots again (once the clock reads `off_until`, epoch seconds, if given: the
        host stays down meanwhile)."""
        self.exec(["systemctl", "reboot", "--no-block"])
        nspawn = self._switch_off()
        nspawn.wait(timeout=self.boot_timeout)
        for cgroup in self._cgroups:
            _remove_cgroup(cgroup, time.monotonic() + 10)
        if off_until is not None:
            time.sleep(max(0.0, off_until - time.time()))
        self._switch_on()

    def _switch_off(self) -> subprocess.Popen:
        if self._nspawn is None:
            raise BoxError("the box is not running")
        nspawn, self._nspawn, self.leader = self._nspawn, None, None
        return nspawn

    def _switch_on(self) -> None:
        self._remove_nspawn_leftovers()  # the lock on the root's inode, when nspawn was killed
        self._boot(ensure_site())
        self._wait_until_booted()


class QueueBox:
    """The box, its simulated GPUs, and gpuagent in it as its units see the GPUs."""

    def __init__(self, box: SystemdBox, gpu_host: FakeGpuHost) -> None:
        self.box = box
        self.gpu_host = gpu_host
        self.gpu_env = {"LD_LIBRARY_PATH": NVML_IN_BOX, "FAKE_NVML_STATE": f"{SIM_IN_BOX}/{gpu_host.state_file.name}"}

    # -- the GPUs and the host's rules ------------------------------------------------

    def gpus(self, used_a: int = 0, used_b: int = 0) -> None:
        """Both GPUs with this much memory taken by processes outside gpuagent."""
        self.gpu_host.update([FakeGpu(GPU_A, total=GPU_TOTAL, used=used_a), FakeGpu(GPU_B, total=GPU_TOTAL, used=used_b)])

    def full(self) -> None:
        self.gpus(GPU_TOTAL, GPU_TOTAL)

    def configure(self, toml: str | None) -> None:
        """The host's gpuagent.toml (None: none, every rule its default)."""
        if toml is None:
            self.box.exec(["rm", "-f", HOST_CONFIG])
        else:
            self.box.write_file(HOST_CONFIG, toml)

    # -- gpuagent -----------------------------------------------------------------------

    def agent(self, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 60):
        return self.box.exec(["gpuagent", *args], check=check, env={"COLUMNS": "200", **self.gpu_env, **(env or {})}, timeout=timeout)

    def submit(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Submit one run; its id."""
        return self.agent("submit", *args, env=env).stdout.split()[0]

    def shell(self, script: str, timeout: float = 300):
        """A shell script in the box, with gpuagent's environment."""
        return self.box.exec(["sh", "-c", script], env={"COLUMNS": "200", **self.gpu_env}, timeout=timeout)

    def background(self, unit: str, script: str) -> None:
        """A shell script left running in the box, as a transient unit."""
        setenv = [f"--setenv={key}={value}" for key, value in self.gpu_env.items()]
        self.box.exec(["systemd-run", f"--unit={unit}", "--quiet", *setenv, "sh", "-c", script])

    def queue(self) -> dict:
        return json.loads(self.agent("queue", "--json").stdout)

    def entries(self) -> list[dict]:
        return self.queue()["entries"]

    def cancel_all(self) -> None:
        ids = [entry["run_id"] for entry in self.entries()]
        if ids:
            self.agent("cancel", *ids, check=False, timeout=400)

    # -- what the box shows ----------------------------------------------------------------

    def resident(self) -> list[str]:
        return gpuagent_processes(self.box)

    def unit_state(self, unit: str, *properties: str) -> dict[str, str]:
        shown = self.box.exec(["systemctl", "show", *(f"--property={p}" for p in properties), unit]).stdout
        return dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)

    def dispatchers_done(self, timeout: float = 30) -> None:
        """Wait until no dispatcher is at work or queued (each submit starts its own)."""

        def idle() -> bool:
            jobs = self.box.exec(["systemctl", "list-jobs", "--no-legend"]).stdout
            units = self.box.exec(["systemctl", "list-units", "--plain", "--no-legend", "--state=active,activating", "gpuagent-dispatch@*"]).stdout
            return "gpuagent-dispatch@" not in jobs and not units.strip()

        wait_for(idle, timeout=timeout, interval=0.2, what="no dispatcher at work")

    def active_queued_units(self) -> list[str]:
        listed = self.box.exec(["systemctl", "list-units", "--plain", "--no-legend", "--state=active,activating", "gpuagent-queued@*"]).stdout
        return [line.split()[0] for line in listed.splitlines() if line.strip()]

    def live_claims(self) -> list[dict]:
        """The claims on GPU memory that admission counts now (expired ones left out)."""
        script = (
            "import dataclasses, json, pathlib\n"
            "from gpuagent.runs.reservations import Reservations\n"
            "print(json.dumps([dataclasses.asdict(c) for c in Reservations(pathlib.Path('/run/gpuagent')).current()]))"
        )
        return json.loads(self.box.exec([*_BOX_PYTHON, script]).stdout)

    def runs(self, name: str | None = None, limit: int = 1000) -> list[RunRecord]:
        """The runs of queue/NAME (every run: None) in the box's history, newest first."""
        path = self.history_path
        if not path.exists():
            return []
        with HistoryStore(path, read_only=True) as store:
            return store.runs(None if name is None else f"queue/{name}", limit=limit)

    @property
    def history_path(self) -> Path:
        return self.box.root / SYSTEM_HISTORY.lstrip("/")

    def ended(self, name: str, count: int, timeout: float = 120) -> list[RunRecord]:
        """Once queue/NAME has `count` ended runs and none of them waits or runs: all of them."""

        def done():
            found = [run for run in self.runs(name) if run.status != "running"]
            return found if len(found) >= count and not [e for e in self.entries() if e["name"] == name] else None

        return wait_for(done, timeout=timeout, interval=1, what=f"{count} ended run(s) of queue/{name}")

    def journal(self, unit: str) -> str:
        return self.box.journal(unit)


@contextlib.contextmanager
def queue_box(directory: Path) -> Iterator[QueueBox]:
    """A booted (power-cyclable) box on two idle 24 GiB simulated GPUs."""
    gpu_host = FakeGpuHost(directory, [FakeGpu(GPU_A, total=GPU_TOTAL), FakeGpu(GPU_B, total=GPU_TOTAL)])
    binds = [(gpu_host.library.parent, NVML_IN_BOX, True), (gpu_host.state_file.parent, SIM_IN_BOX, True)]
    with booted(PoweredBox(binds)) as box:
        queued = QueueBox(box, gpu_host)
        settings = " ".join(f"{key}={value}" for key, value in queued.gpu_env.items())
        box.write_file(_MANAGER_ENV, f"[Manager]\nDefaultEnvironment={settings}\n")
        box.exec(["systemctl", "set-environment", *(f"{key}={value}" for key, value in queued.gpu_env.items())])
        yield queued


def gpuagent_processes(box) -> list[str]:
    """gpuagent's processes in `box` (agents, dispatchers, commands), by command line."""
    # The box has no ps: each process's command line, from /proc.
    found = box.exec(["sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\"; echo; done 2>/dev/null"]).stdout
    return [line.strip() for line in found.splitlines() if "-m gpuagent" in line]
