"""gpuagent boot: what the shipped gpuagent-boot.service runs once a boot, before any run
starts: close the runs the previous boot left (sessions/reaping.py)."""

from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.observe import metrics
from gpuagent.runs.record import JOB_KIND, kind_of
from gpuagent.sessions.reaping import EarlierBoots, reap_earlier_boots


def close_earlier_boots(paths: Paths, log: Log) -> EarlierBoots:
    done = reap_earlier_boots(paths, log)
    if done.lost:
        # each job's last run is now lost, not running
        metrics.refresh(paths, log, jobs=sorted({run.job for run in done.lost if kind_of(run.job) == JOB_KIND}))
    return done
