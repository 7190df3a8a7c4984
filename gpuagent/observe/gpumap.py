"""Which job holds which GPU, told to dcgm-exporter (host/hpcjobs.py) while a run holds
them. Best effort: a mapping that cannot be written is a line in the journal, never a
failed run."""

from collections.abc import Iterable

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host import hpcjobs
from gpuagent.host.hostconfig import read_host_config


def hold(paths: Paths, gpu_indexes: Iterable[int], job: str, log: Log) -> None:
    try:
        hpcjobs.assign(read_host_config(paths).hpc_job_mapping_dir, paths.hpc_jobs_lock, gpu_indexes, job)
    except (GpuAgentError, OSError) as err:
        log(f"dcgm-exporter's job mapping not written: {getattr(err, 'message', err)}")


def let_go(paths: Paths, job: str, log: Log) -> None:
    try:
        hpcjobs.release(read_host_config(paths).hpc_job_mapping_dir, paths.hpc_jobs_lock, job)
    except (GpuAgentError, OSError) as err:
        log(f"dcgm-exporter's job mapping of {job} not removed: {getattr(err, 'message', err)}")
