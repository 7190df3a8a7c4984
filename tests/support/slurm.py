"""A real one-node Slurm cluster on loopback, for running what `gpuagent export --to slurm`
writes: Debian's slurmctld and slurmd, authenticated by a private munged, with two fake
GPUs whose indexes are the simulated NVML's.

Everything listens on 127.0.0.1 and lives in the test's directory; the node is named
`gpunode` and the controller `localhost` (slurmctld accepts that name on any host), so
the machine's hostname need not resolve. Job outcomes are read from Slurm itself: the
jobcomp/filetxt file (state, exit code, start and end) and a Prolog that records the
GPUs Slurm gave each job (jobcomp does not, and `scontrol show job -d` forgets once the
job ends).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.gpu_sim import FakeGpu, FakeGpuHost

REPO = Path(__file__).resolve().parents[2]
GPU_SIM = REPO / "tests" / "gpu_sim"
BUILD_SCRONTAB = REPO / "tests" / "slurm" / "build-scrontab.sh"
NODE = "gpunode"
# Two fake GPUs: device nodes for Slurm's GRES (index = position in gres.conf) and, in the
# same order, the simulated NVML's devices, so Slurm's GPU 1 is nvidia-smi's GPU 1.
FAKE_DEVICES = tuple(Path(f"/dev/fakegpu{i}") for i in range(2))
NVIDIA_MAJOR = 195
DEFAULT_GPUS = (
    FakeGpu(uuid="GPU-5a1e0000-0000-0000-0000-000000000000"),
    FakeGpu(uuid="GPU-5a1e0001-0000-0000-0000-000000000000"),
)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SLURM_CONF = """\
ClusterName=gpuagent
SlurmctldHost=localhost(127.0.0.1)
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
GresTypes=gpu
JobCompType=jobcomp/filetxt
JobCompLoc={base}/jobcomp.txt
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=5
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
ScronParameters=enable
Prolog={base}/prolog
# Both scheduling passes every second, not every 30 and 60: a scrontab fire then starts
# within a second of its minute, not up to a minute late.
SchedulerParameters=bf_interval=1,sched_interval=1
# More CPUs than the machine has (their jobs mostly wait on docker): a slow test's job
# can run beside the others'. config_overrides keeps slurmd from draining the node.
SlurmdParameters=config_overrides
NodeName={node} NodeAddr=127.0.0.1 CPUs=8 RealMemory=2000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""

# Runs as root on the node before each job (and each scrontab fire) with Slurm's view of
# the allocation in its environment.
PROLOG = """\
#!/bin/sh
echo "JobId=$SLURM_JOB_ID GPUs=$SLURM_JOB_GPUS" >>{allocations}
"""


@dataclass(frozen=True)
class JobEnd:
    """One ended run of a job as Slurm recorded it. exit_code is Slurm's "status:signal"
    ("0:0", "75:0", "0:15"); gpus is SLURM_JOB_GPUS as the Prolog saw it ("1", "0,1"),
    None when the job never reached the node."""

    job_id: str
    name: str
    state: str
    exit_code: str
    start: datetime
    end: datetime
    gpus: str | None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def fields(line: str) -> dict[str, str]:
    """KEY=VALUE words of a jobcomp or Prolog line (values hold no spaces here)."""
    return dict(word.partition("=")[::2] for word in line.split())


def records(path: Path, job_id: str) -> list[dict[str, str]]:
    """The lines of a jobcomp or Prolog file about one job, oldest first."""
    lines = path.read_text().splitlines() if path.exists() else []
    return [record for record in map(fields, lines) if record.get("JobId") == job_id]


def scrontab_binary() -> Path:
    """The scrontab tool, built on first use (bookworm's slurm-client lacks it)."""
    build = subprocess.run(["bash", str(BUILD_SCRONTAB)], capture_output=True, text=True, timeout=600)
    if build.returncode != 0:
        pytest.fail(f"building scrontab failed:\n{build.stderr}", pytrace=False)
    return Path(build.stdout.strip())


class SlurmCluster:
    """slurmctld, slurmd and munged as child processes, configured under `base`."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.conf = base / "slurm.conf"
        self.jobcomp = base / "jobcomp.txt"
        self.allocations = base / "allocations.txt"
        self.gpus = FakeGpuHost(base, DEFAULT_GPUS)
        # munged runs as the munge user, who cannot enter pytest's private directories.
        self.munge_dir = Path(tempfile.mkdtemp(prefix="gpuagent-munge-"))
        self.munge_socket = self.munge_dir / "munge.socket"
        self.processes: list[subprocess.Popen] = []
        self.made_devices: list[Path] = []
        self.has_scrontab = False
        self.env = {
            **os.environ,
            **self.gpus.env(),
            "SLURM_CONF": str(self.conf),
            # Batch scripts find the fake nvidia-smi first, and the python (with pynvml)
            # that runs it next: sbatch passes its caller's environment to the job.
            # A scrontab fire does not see them: Slurm gives it the user's login
            # environment (and home directory as its working directory).
            "PATH": os.pathsep.join([str(GPU_SIM), str(Path(sys.executable).parent), SYSTEM_PATH]),
        }

    # --- life cycle ------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        if os.geteuid() != 0:
            pytest.fail("a Slurm cluster needs root (slurmd runs jobs as their user)", pytrace=False)
        for tool in ("slurmctld", "slurmd", "munged", "sbatch"):
            if shutil.which(tool, path=SYSTEM_PATH) is None:
                pytest.fail(f"{tool} is missing: run `sudo tests/setup-host.sh`", pytrace=False)
        self.write_config()
        self.make_devices()
        self.start_munged()
        self.spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self.spawn("slurmd", ["slurmd", "-D", "-N", NODE, "-f", str(self.conf)])
        self.wait_for(lambda: self.slurm("sinfo", "-h", "-o", "%T", check=False).stdout.strip() == "idle", timeout, "the node to be idle")

    def write_config(self) -> None:
        for directory in ("state", "spool"):
            (self.base / directory).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(SLURM_CONF.format(base=self.base, node=NODE, munge_socket=self.munge_socket))
        devices = f"{FAKE_DEVICES[0].parent}/fakegpu[0-{len(FAKE_DEVICES) - 1}]"
        (self.base / "gres.conf").write_text(f"AutoDetect=off\nNodeName={NODE} Name=gpu File={devices}\n")
        prolog = self.base / "prolog"
        prolog.write_text(PROLOG.format(allocations=self.allocations))
        prolog.chmod(0o755)

    def make_devices(self) -> None:
        """Character devices with NVIDIA's major number: slurmd only checks they exist."""
        for minor, device in enumerate(FAKE_DEVICES):
            if not device.exists():
                os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(NVIDIA_MAJOR, minor))
                self.made_devices.append(device)

    def start_munged(self) -> None:
        """A munged of the cluster's own (its key, socket and files in munge_dir), so a
        host's munged, running or not, plays no part."""
        munge = pwd.getpwnam("munge")
        key = self.munge_dir / "munge.key"
        subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
        for path in (self.munge_dir, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)
        self.munge_dir.chmod(0o755)  # munged wants its socket's directory open to all
        files = {name: self.munge_dir / name for name in ("munged.pid", "munged.seed", "munged.log")}
        self.spawn(
            "munged",
            [
                *("setpriv", "--reuid", "munge", "--regid", "munge", "--init-groups"),
                *("munged", "-F", f"--key-file={key}", f"--socket={self.munge_socket}"),
                f"--pid-file={files['munged.pid']}",
                f"--seed-file={files['munged.seed']}",
                f"--log-file={files['munged.log']}",
            ],
        )
        ready = ["munge", "-n", "-S", str(self.munge_socket)]
        self.wait_for(lambda: subprocess.run(ready, capture_output=True).returncode == 0, 10, "munged to answer")

    def spawn(self, name: str, command: list[str]) -> None:
        with open(self.base / f"{name}.out", "w") as output:
            self.processes.append(subprocess.Popen(command, env=self.env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))

    def stop(self) -> None:
        """The jobs still there, then each daemon this cluster started, by its process,
        and the devices it made."""
        self.end_jobs()
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for device in self.made_devices:
            device.unlink(missing_ok=True)
        shutil.rmtree(self.munge_dir, ignore_errors=True)

    def end_jobs(self, timeout: float = 60) -> None:
        """Cancel every job (a scrontab's by removing it) and wait for them to leave the
        queue. A job's slurmstepd outlives slurmd: one left running would go on,
        container and all, after the cluster is gone, with no controller to end it."""
        if self.has_scrontab:
            self.remove_scrontab()
        jobs = self.slurm("squeue", "-h", "-o", "%i", check=False).stdout.split()
        if not jobs:
            return
        self.slurm("scancel", *jobs, check=False)
        deadline = time.monotonic() + timeout
        while self.slurm("squeue", "-h", "-o", "%i", check=False).stdout.strip() and time.monotonic() < deadline:
            time.sleep(0.2)

    def wait_for(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if dead := [p for p in self.processes if p.poll() is not None]:
                pytest.fail(f"{dead[0].args[0]} exited ({dead[0].returncode}) while waiting for {what}\n{self.logs()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}\n{self.logs()}", pytrace=False)
            time.sleep(0.1)

    def logs(self, lines: int = 15) -> str:
        """The end of each daemon's log, for failure messages."""
        parts = []
        for log in sorted(self.base.glob("*.log")) + sorted(self.base.glob("*.out")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- jobs --------------------------------------------------------------------------

    def slurm(self, *command: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(command, env=self.env, cwd=cwd, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def submit(self, script: Path, cwd: Path, *sbatch_args: str) -> str:
        """Submit `script` from `cwd` (where relative --output paths land); its job id."""
        return self.slurm("sbatch", "--parsable", *sbatch_args, str(script), cwd=cwd).stdout.strip().split(";")[0]

    def ended(self, job_id: str) -> list[JobEnd]:
        """Every ended run of the job so far, oldest first (a scrontab job keeps its id
        from fire to fire, and jobcomp gets one line per fire)."""
        runs = records(self.jobcomp, job_id)
        given = [record["GPUs"] for record in records(self.allocations, job_id)]
        return [
            JobEnd(
                job_id=job_id,
                name=run["Name"],
                state=run["JobState"],
                exit_code=run["ExitCode"],
                start=datetime.fromisoformat(run["StartTime"]),
                end=datetime.fromisoformat(run["EndTime"]),
                gpus=given[i] if i < len(given) else None,
            )
            for i, run in enumerate(runs)
        ]

    def wait_started(self, job_id: str, timeout: float = 30) -> str:
        """The GPUs Slurm gave the job, once it reached the node."""
        self.wait_for(lambda: records(self.allocations, job_id), timeout, f"job {job_id} to start")
        return records(self.allocations, job_id)[0]["GPUs"]

    def queued(self, job_id: str) -> bool:
        return bool(self.slurm("squeue", "-h", "-j", job_id, check=False).stdout.strip())

    def wait_ended(self, job_id: str, timeout: float = 60, fire: int = 1) -> JobEnd:
        """The job's `fire`-th run once Slurm recorded its end and, for a job that is not
        a scrontab one, left the queue (its batch script, clean-up included, is over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.ended(job_id)
            if len(runs) >= fire and (self.is_cron(job_id) or not self.queued(job_id)):
                return runs[fire - 1]
            time.sleep(0.2)
        state = self.slurm("scontrol", "show", "job", job_id, check=False).stdout
        raise AssertionError(f"job {job_id} did not end {fire} time(s) within {timeout}s:\n{state}\n{self.logs()}")

    def is_cron(self, job_id: str) -> bool:
        return "CronJob=Yes" in self.slurm("scontrol", "show", "job", job_id, check=False).stdout

    def cancel(self, job_id: str) -> None:
        self.slurm("scancel", job_id)

    # --- scrontab ----------------------------------------------------------------------

    def install_scrontab(self, crontab: Path) -> None:
        """Make `crontab` root's scrontab (Slurm checks every entry and refuses the file
        if one is bad)."""
        self.slurm(str(scrontab_binary()), str(crontab))
        self.has_scrontab = True

    def remove_scrontab(self) -> None:
        self.slurm(str(scrontab_binary()), "-r", check=False)
        self.has_scrontab = False

    def job_ids(self, name: str) -> list[str]:
        """Ids of the queued jobs named `name` (how a scrontab entry's job is found)."""
        return self.slurm("squeue", "-h", "-n", name, "-o", "%i").stdout.split()


@contextlib.contextmanager
def running_cluster(base: Path) -> Iterator[SlurmCluster]:
    cluster = SlurmCluster(base)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
