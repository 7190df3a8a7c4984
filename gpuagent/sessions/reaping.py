"""The reap of what a dead agent left: a job's or a notebook's containers, its `running`
history rows, and a notebook's file. A container lives in dockerd's cgroup, not the
service's, so an agent killed outright leaves it running, and leaves its history row
`running`: the service's ExecStopPost (`gpuagent reap`) and its failure handler
(`gpuagent on-failure`) reap.

It lives with sessions, not runs, because it reaps every kind of subject: a job's runs
and a notebook's (named `notebook/NAME`), and at boot (`gpuagent boot`, the shipped
gpuagent-boot.service) every run an earlier boot left `running`: a shell's and a queued
run's too.

A host that went down (a power cut, a panic) ran no ExecStopPost and no failure handler:
its runs are closed at the next boot, each once. The run templates are ordered after
that unit, so no run of the new boot starts before it is done; and a row written in this
boot (host/boots.py) is never touched, so the pass run again by hand finds nothing to do.
"""

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime

from gpuagent.core.errors import GpuAgentError
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host.boots import Boot, current_boot, process_started_at
from gpuagent.host.dockerd import LABEL_RUN, Docker
from gpuagent.host.historydb import STORE_ERRORS, HistoryStore
from gpuagent.host.locks import flocked
from gpuagent.host.runfiles import remove_job_files
from gpuagent.observe import announce, gpumap
from gpuagent.runs.record import JOB_KIND, RunKind, RunRecord, Status, kind_of, parse_subject, subject
from gpuagent.runs.recorder import RunRecorder
from gpuagent.runs.reservations import Reservations
from gpuagent.runs.runner import reap_orphans
from gpuagent.sessions.live_notebooks import remove_notebook

# How systemd says the service ended, to its ExecStopPost ($SERVICE_RESULT) and to its
# failure handler ($MONITOR_SERVICE_RESULT): these two mean `gpuagent run` exited by
# itself (0, or an exit code it chose), after removing its container and recording its
# run, so the reap has nothing to do and skips docker's import and API calls. A signal,
# core dump, timeout or watchdog means it may not have: reap then.
AGENT_ENDED_ITSELF = frozenset({"success", "exit-code"})


def agent_ended_itself(service_result: str | None) -> bool:
    """Whether systemd's word for how the service ended says the agent exited by itself."""
    return service_result in AGENT_ENDED_ITSELF


def reap_job(paths: Paths, name: str, log: Log) -> list[str]:
    """Clean up after a run whose agent died: remove the job's (or notebook's, named
    `notebook/NAME`) containers and mark its `running` rows lost, unless a live agent
    holds its lock (then its run is going, and nothing is touched); for `shell/NAME`,
    the shells of job NAME whose agent is gone (reap_shells). Returns the names of the
    containers removed."""
    kind = kind_of(parse_subject(name))
    if kind == RunKind.SHELL:
        return reap_shells(paths, name.partition("/")[2], log)
    notebook = name.partition("/")[2] if kind == RunKind.NOTEBOOK else None
    lock = paths.notebook_lock(notebook) if notebook else paths.job_lock(name)
    with flocked(lock, wait=False) as free:
        if not free:
            return []
        recorder = RunRecorder(paths, log)
        try:
            return reap_orphans(paths, name, recorder, log)
        finally:
            recorder.close()
            if notebook:
                remove_notebook(paths, notebook)


SHELL_LOST_REASON = "its `gpuagent shell` was killed outright (agent pid {pid} gone); its container was removed"
# /proc's start times are to about a second; an agent starts before it makes its record
_START_SLACK = 2.0


def reap_shells(paths: Paths, job: str, log: Log) -> list[str]:
    """Remove the containers of job `job`'s shells whose agent is gone (killed outright:
    SIGKILL, the OOM killer), and record their runs lost. A shell has no lock (a user may
    open several): its record's agent pid says whether it lives, and the pid's start
    time whether that is still the agent, not a process that took its pid since.
    `gpuagent shell JOB` does this before opening another; `gpuagent reap shell/JOB` too.
    A container with no record (history unavailable when it started) is left alone."""
    if not paths.history_db.exists():
        return []
    removed = []
    try:
        docker = Docker()
        containers = docker.job_containers(subject(RunKind.SHELL, job))
        if not containers:
            return []
        with HistoryStore(paths.history_db) as store:
            for container in containers:
                run = store.get(container.labels.get(LABEL_RUN, ""))
                if run is None or not _agent_gone(run):
                    continue
                log(f"removing container {container.name} of shell run {run.run_id}: its agent (pid {run.agent_pid}) is gone")
                docker.remove(container)
                removed.append(container.name)
                Reservations(paths.runtime_dir).release(run.run_id)
                if run.status == Status.RUNNING:
                    reason = SHELL_LOST_REASON.format(pid=run.agent_pid)
                    store.save(dataclasses.replace(run, status=Status.LOST, reason=reason, ended_at=time.time()))
    except GpuAgentError as err:
        log(f"could not look for the containers of shells whose agent is gone: {err.message}")
    except STORE_ERRORS as err:
        log(f"could not read the shells' runs in history ({err}): their containers are left")
    return removed


def _agent_gone(run: RunRecord) -> bool:
    if run.agent_pid is None:
        return False
    try:
        started = process_started_at(run.agent_pid)
    except OSError:
        return False  # cannot tell: leave it
    return started is None or started > run.started_at + _START_SLACK


# Whose lost runs are announced: a job's and a queued run's have notify files and pings;
# a notebook or a shell was someone at a terminal, who saw it go.
ANNOUNCED_KINDS = frozenset({JOB_KIND, RunKind.QUEUED})


def host_down_reason(boot: Boot) -> str:
    booted = datetime.fromtimestamp(boot.started_at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"the host went down during the run (boot at {booted})"


@dataclass
class EarlierBoots:
    lost: list[RunRecord] = field(default_factory=list)  # the runs recorded lost now
    reaped: list[str] = field(default_factory=list)  # the containers removed
    announced: int = 0  # notifications and pings sent about them
    problems: list[str] = field(default_factory=list)  # what could not be done


def reap_earlier_boots(paths: Paths, log: Log) -> EarlierBoots:
    """Record lost every run an earlier boot left `running`, with the reason; remove its
    containers, claims and files, and announce it (`lost`, /fail) once."""
    done = EarlierBoots()
    if not paths.history_db.exists():
        return done
    boot = current_boot()
    try:
        with HistoryStore(paths.history_db) as store:
            done.lost = store.lose_earlier_boots(boot, host_down_reason(boot))
    except STORE_ERRORS as err:
        done.problems.append(f"history cannot be read or written ({err}): runs of earlier boots left as they are")
        return done
    if not done.lost:
        return done
    for run in done.lost:
        log(f"{run.job} run {run.run_id} marked lost: {run.reason}")
    by_subject: dict[str, list[str]] = {}  # each subject's lost runs, by id
    for run in done.lost:
        by_subject.setdefault(run.job, []).append(run.run_id)
    done.reaped = _remove_containers(by_subject, log, done.problems)
    reservations = Reservations(paths.runtime_dir)
    for name, run_ids in by_subject.items():
        # each its own: what fails for one (a runtime directory, a lock) leaves the others done
        try:
            for run_id in run_ids:
                reservations.release(run_id)
            _tidy_subject(paths, name, log)
            if kind_of(name) in ANNOUNCED_KINDS:
                done.announced += announce.announce_lost_runs(paths, name, run_ids, log)
        except (GpuAgentError, OSError) as err:
            done.problems.append(f"{name}: its claims, files or notification: {getattr(err, 'message', err)}")
    return done


def _remove_containers(by_subject: dict[str, list[str]], log: Log, problems: list[str]) -> list[str]:
    """The containers of these runs (each subject's, by run id), found by their labels
    (after a reboot they have exited; a container on a host whose dockerd outlived the
    agents may still run: it is killed, its run is over)."""
    removed = []
    try:
        docker = Docker()
        for name, run_ids in by_subject.items():
            for container in docker.job_containers(name):
                if container.labels.get(LABEL_RUN) in run_ids:
                    log(f"removing container {container.name} of lost run {container.labels[LABEL_RUN]}")
                    docker.remove(container)
                    removed.append(container.name)
    except GpuAgentError as err:
        problems.append(f"could not remove the containers of the lost runs: {err.message}")
    return removed


def _tidy_subject(paths: Paths, name: str, log: Log) -> None:
    """A job's run files and dcgm-exporter mapping, a notebook's file: only while no live
    agent holds its lock."""
    kind = kind_of(name)
    if kind == JOB_KIND:
        with flocked(paths.job_lock(name), wait=False) as free:
            if free:
                gpumap.let_go(paths, name, log)
                remove_job_files(paths, name)
    elif kind == RunKind.NOTEBOOK:
        notebook = name.partition("/")[2]
        with flocked(paths.notebook_lock(notebook), wait=False) as free:
            if free:
                remove_notebook(paths, notebook)
