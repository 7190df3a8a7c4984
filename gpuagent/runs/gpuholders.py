"""Who holds each GPU now: every GPU, whose processes hold its memory (which run's
container), and what admission has reserved on it and is not in use yet (a run loading
its model, a notebook idle). What `gpuagent gpus` shows and `gpuagent top` refreshes."""

import os
from dataclasses import dataclass

from gpuagent.core.errors import DockerError, NvmlUnavailable
from gpuagent.core.paths import Paths
from gpuagent.host.nvml import (
    GpuProcess,
    GpuSnapshot,
    driver_version,
    nvml_kept_open,
    read_gpus,
)
from gpuagent.host.procs import container_id_of_pid
from gpuagent.runs.reservations import Claim, Reservations


@dataclass(frozen=True)
class GpuProcessOwner:
    pid: int
    used_bytes: int | None
    container_id: str | None  # None: not in a docker container
    job: str | None  # the gpuagent job whose container it is; None: another's ("other")


@dataclass(frozen=True)
class GpuView:
    gpu: GpuSnapshot
    processes: tuple[GpuProcessOwner, ...]
    claims: tuple[Claim, ...] = ()  # reserved by admission, not yet in use


@dataclass(frozen=True)
class GpusReport:
    driver_version: str | None
    gpus: list[GpuView]
    nvml_problem: str | None  # no NVIDIA driver, or NVML unusable: no GPUs to show
    docker_problem: str | None  # why containers could not be matched to jobs
    host: str = ""  # this host's name (as notifications and the report say it): a script merges several hosts' answers by it


def read_gpu_report(paths: Paths) -> GpusReport:
    try:
        with nvml_kept_open():
            snapshots, driver = read_gpus(), driver_version()
    except NvmlUnavailable as err:
        return GpusReport(None, [], err.message, None, os.uname().nodename)
    containers = {process.pid: container_id_of_pid(process.pid) for gpu in snapshots for process in gpu.processes}
    jobs, docker_problem = {}, None
    if any(containers.values()):  # only then is dockerd worth asking (importing docker costs ~150 ms)
        try:
            from gpuagent.host.dockerd import Docker

            jobs = Docker().job_of_containers()
        except DockerError as err:
            docker_problem = err.message

    def owner(process: GpuProcess) -> GpuProcessOwner:
        container = containers[process.pid]
        return GpuProcessOwner(process.pid, process.used_bytes, container, jobs.get(container) if container else None)

    claims = Reservations(paths.runtime_dir).current()
    views = [GpuView(gpu, tuple(map(owner, gpu.processes)), tuple(claim for claim in claims if claim.gpu_uuid == gpu.uuid)) for gpu in snapshots]
    return GpusReport(driver, views, None, docker_problem, os.uname().nodename)
