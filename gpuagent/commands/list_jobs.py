"""gpuagent list: every job with its schedule and timer state."""

from gpuagent.core.paths import Paths
from gpuagent.jobs.inventory import JobList, job_summaries


def list_jobs(paths: Paths) -> JobList:
    return job_summaries(paths)
