"""gpuagent list: every job with its schedule and timer state."""

from gpuagent.host.inventory import JobList, job_summaries
from gpuagent.paths import Paths


def list_jobs(paths: Paths) -> JobList:
    return job_summaries(paths)
