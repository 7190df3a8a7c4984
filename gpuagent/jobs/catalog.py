"""Job files on this host: finding them, reading them, and holding a job to what the host
has (its calendar as systemd reads it, its volumes, its env file, its CPU count).

jobs/job.py reads a job file's text without looking at the host; views (`status`, `list`,
`show`) stop there, so a volume on an NFS mount that is down does not make a job look
broken. `add`, `sync`, `run` and `doctor` also verify it on the host.
"""

import dataclasses
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.core.values import NAME_PATTERN, Volume
from gpuagent.host.calendar import EPOCH, check_schedule
from gpuagent.host.files import read_env_file
from gpuagent.jobs.job import Job
from gpuagent.jobs.jobfile import job_from_toml
from gpuagent.jobs.schedule import ZONE_KEY


@dataclass(frozen=True)
class JobFile:
    job: Job
    text: str  # the bytes it was read from, decoded
    sha256: str  # of those bytes: what a run records as the job it ran


def job_names(jobs_dir: Path) -> list[str]:
    if not jobs_dir.is_dir():
        return []
    return sorted(p.stem for p in jobs_dir.glob("*.toml") if NAME_PATTERN.fullmatch(p.stem))


def read_job_file(path: Path, *, on_host: bool = True, calendar: bool = True) -> JobFile:
    """Read and validate a job file, refusing one that others could have changed; with
    on_host, also verify it against this host (verify_on_host), its calendar included
    unless `calendar` is False: a run of the job's container does not use its schedule
    (its timer has read it), and asking systemd-analyze costs ~10 ms."""
    try:
        info = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no job named {path.stem!r}", "see `gpuagent list` for the jobs there are") from None
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InvalidInput(
            f"job file {path} is writable by group or others: refusing to run what someone else may have changed",
            f"chmod go-w {path}",
        )
    text = data.decode("utf-8", errors="replace")
    job = job_from_toml(text, path)
    if on_host:
        try:
            if calendar:
                job = verify_on_host(job, schedule_labels=(f"schedule.{job.schedule.kind}", f"schedule.{ZONE_KEY}"), after=EPOCH)
            else:
                verify_environment(job)
        except InvalidInput as err:
            raise InvalidInput(f"job file {path}: {err.message}", err.hint) from None
    import hashlib  # here: submit and add check job files without hashing them (3 ms)

    return JobFile(job, text, hashlib.sha256(data).hexdigest())


def load_job(path: Path, *, on_host: bool = True) -> Job:
    return read_job_file(path, on_host=on_host).job


def verify_on_host(job: Job, *, schedule_labels: tuple[str, str], after=None) -> Job:
    """`job` held to this host: its calendar read by systemd (and put in systemd's normal
    form), and its environment (verify_environment). `schedule_labels` name the schedule
    and its zone in errors (options, or keys)."""
    verify_environment(job)
    return dataclasses.replace(job, schedule=check_schedule(job.schedule, *schedule_labels, after=after))


def verify_environment(job: Job) -> None:
    """What the job's container needs of this host: its volumes' host paths present, its
    env file readable, its CPUs available."""
    for volume in job.volumes:
        if not os.path.exists(volume.host):
            raise InvalidInput(f"-v {volume.spec()}: host path {volume.host} does not exist", "create it first, or fix the path")
        refuse_docker_socket(volume)
    if job.env_file is not None:
        read_env_file(job.env_file)
    cores = os.cpu_count() or 1
    if job.cpus is not None and job.cpus > cores:
        raise InvalidInput(f"--cpus {job.cpus:g} is more than this host's {cores} cores", f"use at most --cpus {cores}")


def docker_sockets() -> set[str]:
    """Where this host's docker socket is, symlinks resolved: the usual places, and the
    one DOCKER_HOST names."""
    places = ["/var/run/docker.sock", "/run/docker.sock"]
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith("unix://"):
        places.append(docker_host.removeprefix("unix://"))
    return {os.path.realpath(place) for place in places}


def refuse_docker_socket(volume: Volume) -> None:
    """A job that can reach the docker socket can start a privileged container: it is
    root on this host. Refuse a mount that is the socket, or a directory holding it."""
    mounted = os.path.realpath(volume.host)
    for socket in sorted(docker_sockets()):
        if socket == mounted or socket.startswith(mounted.rstrip("/") + "/"):
            through = "" if mounted == volume.host else f" ({volume.host} is {mounted})"
            raise InvalidInput(
                f"-v {volume.spec()}: {mounted}{through} holds the docker socket {socket}: a job that can reach it is root on this host",
                "mount only the data and checkpoint directories the job needs",
            )
