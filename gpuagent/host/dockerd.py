"""The only module that talks to dockerd (through the docker SDK).

Every container gpuagent makes carries the labels below, and every lookup filters by them,
so gpuagent never touches a container it did not start.
"""

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gpuagent.core.errors import DockerError
from gpuagent.core.values import NOBODY
from gpuagent.host.files import read_env_file
from gpuagent.host.output import split_lines
from gpuagent.jobs.job import Job
from gpuagent.jobs.settings import SETTINGS

LABEL_JOB = "gpuagent.job"
LABEL_RUN = "gpuagent.run-id"


@dataclass(frozen=True)
class ContainerSpec:
    """One run's container: what the job's settings give docker's create call (each row's
    `docker` column in jobs/settings.py, with the run's own environment and volumes over
    them), and the run's own parts."""

    name: str
    labels: dict[str, str]
    gpu_uuids: tuple[str, ...]
    settings: dict[str, Any]  # docker SDK create's keyword arguments, from the job's settings
    ports: dict[int, tuple[str, int]] = field(default_factory=dict)  # container port -> (host address, host port)
    tty: bool = False  # a terminal, with stdin open: a shell

    def create_arguments(self) -> dict[str, Any]:
        """The keyword arguments of docker SDK's containers.create, but for the GPUs
        (device requests, which need the SDK's types): the settings, and what every
        container gpuagent makes has."""
        return {
            **self.settings,
            "name": self.name,
            "labels": self.labels,
            "ports": {f"{port}/tcp": host for port, host in self.ports.items()} or None,
            "tty": self.tty,
            "stdin_open": self.tty,
            # an init process that passes signals on and reaps, and no way to gain privileges;
            # the docker socket is never mounted (a volume's reader refuses it)
            "init": True,
            "security_opt": ["no-new-privileges"],
            "detach": True,
        }


@dataclass(frozen=True)
class ImageInfo:
    user: str  # the image's USER, "" when unset
    digest: str  # repo digest where the image came from a registry, else its image id


@dataclass(frozen=True)
class ExitState:
    exit_code: int | None
    oom_killed: bool


def run_user(job_user: str | None, image_user: str) -> str:
    """The job's --user if it set one; else the image's own user, unless that is root:
    then nobody. A job that really needs root says --user 0."""
    if job_user is not None:
        return job_user
    return NOBODY if is_root(image_user) else image_user


def is_root(user: str) -> bool:
    """Whether an image's USER runs as root: unset, or root by name or uid, whatever the
    group (`root`, `0`, `root:root`, `0:0`, `root:0`, `0:1000`)."""
    return user.partition(":")[0].strip() in ("", "root", "0")


def container_spec(
    job: Job,
    run_id: str,
    gpu_uuids: tuple[str, ...],
    image_user: str,
    *,
    owner: str | None = None,
    run_env: Mapping[str, str] | None = None,
    run_volumes: Mapping[str, dict[str, str]] | None = None,
    ports: Mapping[int, tuple[str, int]] | None = None,
    tty: bool = False,
) -> ContainerSpec:
    """Everything `docker create` gets for one run of `job`: what each setting's `docker`
    column makes of it, and the run's own. Pure, apart from reading the job's env file
    (read at each run, so a rotated secret is picked up). `owner` is what history names
    the run by: the job, or a session's `KIND/NAME` (sessions/spec.py).
    `run_env` and `run_volumes` are gpuagent's own for the run (runs/runmetrics.py): they
    win over the job's, so a job cannot make its run misreport itself."""
    owner = owner or job.name
    settings: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.docker is not None:
            settings.update(setting.docker(getattr(job, setting.field)))
    # the env file is read here, at each run: a row of the table cannot read a file
    environment = dict(read_env_file(job.env_file)) if job.env_file else {}
    environment.update(settings.get("environment", {}))
    environment.update(run_env or {})
    if not gpu_uuids:
        # Images built on pytorch/pytorch say NVIDIA_VISIBLE_DEVICES=all: on a host whose
        # default docker runtime is NVIDIA's, a CPU job would see (and could fill) every GPU.
        environment.setdefault("NVIDIA_VISIBLE_DEVICES", "void")
    settings["environment"] = [f"{key}={value}" for key, value in environment.items()]
    settings["volumes"] = settings.get("volumes", {}) | dict(run_volumes or {})
    settings["user"] = run_user(settings.get("user"), image_user)
    return ContainerSpec(
        name=f"gpuagent-{owner.replace('/', '-')}-{run_id}",
        labels={LABEL_JOB: owner, LABEL_RUN: run_id},
        gpu_uuids=gpu_uuids,
        settings=settings,
        ports=dict(ports or {}),
        tty=tty,
    )


class Docker:
    """A connection to dockerd. Every failure comes out as DockerError, with a reason
    people can act on."""

    def __init__(self) -> None:
        import docker
        import docker.errors
        import requests.exceptions

        self._errors = docker.errors
        self._lost = requests.exceptions.RequestException
        try:
            self._client = docker.from_env()
        except docker.errors.DockerException as err:
            raise DockerError(f"docker is unreachable: {err}", "start dockerd (systemctl start docker)") from None

    @contextmanager
    def _asking(self, what: str, missing_ok: bool = False, missing: DockerError | None = None) -> Iterator[None]:
        """Turn the SDK's errors into DockerError. When what was asked for does not exist:
        nothing with missing_ok (a container already gone), else `missing` if given."""
        try:
            yield
        except self._errors.NotFound:
            if not missing_ok:
                raise missing or DockerError(f"docker could not {what}: not found") from None
        except self._errors.APIError as err:
            raise DockerError(f"docker could not {what}: {err.explanation}") from None
        except (self._lost, self._errors.DockerException) as err:
            raise DockerError(f"lost contact with docker (could not {what}): {err}", "is dockerd running? (systemctl status docker)") from None

    def image_info(self, image: str) -> ImageInfo:
        """What a run needs to know of its image; DockerError when it is not on this host."""
        not_here = DockerError(f"image {image} is not on this host", f"docker pull {image} (or build it) before the next run")
        with self._asking(f"inspect image {image}", missing=not_here):
            attrs = self._client.images.get(image).attrs
        digests = attrs.get("RepoDigests") or [attrs["Id"]]
        return ImageInfo(user=(attrs.get("Config") or {}).get("User") or "", digest=digests[0])

    def create(self, spec: ContainerSpec):
        from docker.types import DeviceRequest

        device_requests = [DeviceRequest(device_ids=list(spec.gpu_uuids), capabilities=[["gpu"]])] if spec.gpu_uuids else None
        with self._asking("create the container"):
            return self._client.containers.create(**spec.create_arguments(), device_requests=device_requests)

    def start(self, container) -> None:
        with self._asking("start the container"):
            container.start()

    def attach(self, container) -> Iterator[bytes]:
        """The container's stdout and stderr, as byte chunks, from its start to its exit
        (attach before starting it, as `docker run` does, to miss nothing at the start)."""
        with self._asking("attach to the container"):
            return container.attach(stdout=True, stderr=True, stream=True, logs=True)

    def attach_terminal(self, container):
        """The container's terminal as a socket: what is written to it is its input, what
        is read from it its output (attach before starting it, as `docker run -it` does)."""
        with self._asking("attach to the container's terminal"):
            sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1, "logs": 1})
        return getattr(sock, "_sock", sock)  # the SDK wraps the socket in a SocketIO

    def resize(self, container, rows: int, columns: int) -> None:
        """Tell the container's terminal its size; one that is gone does not mind."""
        with self._asking("resize the container's terminal", missing_ok=True):
            container.resize(height=rows, width=columns)

    def output_lines(self, chunks: Iterator[bytes]) -> Iterator[str]:
        with self._asking("follow the container's output"):
            yield from split_lines(chunks)

    def wait(self, container) -> None:
        """Block until the container is not running (returns at once if it never started)."""
        with self._asking("wait for the container"):
            container.wait(condition="not-running")

    def stop(self, container, grace: int) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        with self._asking("stop the container", missing_ok=True):
            container.stop(timeout=grace)

    def hang_up(self, container) -> None:
        """SIGHUP, what a terminal that closes sends: an interactive shell, which ignores
        SIGTERM, exits on it. A container that has ended already does not mind."""
        with contextlib.suppress(DockerError), self._asking("hang up the container", missing_ok=True):
            container.kill(signal="SIGHUP")

    def exit_state(self, container) -> ExitState:
        with self._asking("inspect the container"):
            container.reload()
        state = container.attrs["State"]
        return ExitState(exit_code=state.get("ExitCode"), oom_killed=bool(state.get("OOMKilled")))

    def remove(self, container) -> None:
        with self._asking("remove the container", missing_ok=True):
            container.remove(force=True)

    # The SDK lists ids, then inspects each: a container removed in between (another run
    # ending, a reap) must drop out of the list, not fail it (ignore_removed).
    def job_containers(self, job: str) -> list:
        with self._asking("list containers"):
            return self._client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job}"}, ignore_removed=True)

    def job_of_containers(self) -> dict[str, str]:
        """The job of each running container gpuagent started, by container id."""
        with self._asking("list containers"):
            containers = self._client.containers.list(filters={"label": LABEL_JOB}, ignore_removed=True)
        return {container.id: container.labels[LABEL_JOB] for container in containers}

    def info(self) -> dict:
        """`docker info` as dockerd reports it (ServerVersion, Runtimes, ...)."""
        with self._asking("read docker info"):
            return self._client.info()


def answers(timeout: float = 2.0) -> bool:
    """Whether dockerd answers its /_ping on its unix socket, asked without the SDK (whose
    import alone costs ~150 ms): the dispatcher asks before it starts runs, so that while
    dockerd restarts, waiting runs stay waiting rather than fail. A DOCKER_HOST that is not
    a unix socket is taken to answer: the run itself will say if it does not."""
    docker_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not docker_host.startswith("unix://"):
        return True
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(docker_host.removeprefix("unix://"))
            connection.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = connection.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return False
    return status_line.split(b" ")[1:2] == [b"200"]
