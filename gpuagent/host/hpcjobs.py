"""dcgm-exporter's HPC job mapping, so the GPU exporter a host already runs says which
job holds which GPU on a plain docker host.

dcgm-exporter started with `--hpc-job-mapping-dir DIR` reads DIR/<GPU index>, one job id
per line, and gives every metric of that GPU the label hpc_job="<id>". While a run holds
GPUs, the job's name is a line of each of their files; the line goes when the run ends
(or, for an agent that died, at the reap). Runs sharing a GPU are lines of one file, so
every change is a read-modify-replace under one host-wide lock; an empty file is removed.
"""

from collections.abc import Iterable
from pathlib import Path

from gpuagent.host.files import write_atomic
from gpuagent.host.locks import flocked


def assign(directory: Path, lock: Path, gpu_indexes: Iterable[int], job: str) -> None:
    """Add `job` to the mapping file of each GPU."""
    with flocked(lock, wait=True):
        for index in gpu_indexes:
            jobs = _jobs(directory / str(index))
            if job not in jobs:
                _write(directory / str(index), [*jobs, job])


def release(directory: Path, lock: Path, job: str) -> list[int]:
    """Take `job` off every GPU's mapping file; the GPU indexes it was on."""
    if not directory.is_dir():
        return []
    released = []
    with flocked(lock, wait=True):
        for path in sorted(directory.iterdir()):
            if not path.name.isdigit():
                continue
            jobs = _jobs(path)
            if job in jobs:
                _write(path, [name for name in jobs if name != job])
                released.append(int(path.name))
    return released


def _jobs(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def _write(path: Path, jobs: list[str]) -> None:
    if jobs:
        write_atomic(path, "".join(f"{job}\n" for job in jobs))
    else:
        path.unlink(missing_ok=True)
