"""The only module that talks to dockerd: its Engine API, over http.client (see Docker).

Every container gpuagent makes carries the labels below, and every lookup filters by them,
so gpuagent never touches a container it did not start.
"""

import contextlib
import http.client
import json
import os
import socket
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
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

REQUEST_TIMEOUT = 60.0  # seconds for an answer (the docker SDK's); waiting for an exit has none
FALLBACK_API_VERSION = "1.41"  # docker 20.10, for a dockerd that does not say its own
MAX_HEAD = 16384  # bytes of an answer's head


@dataclass(frozen=True)
class ContainerSpec:
    """One run's container: what the job's settings give docker's create call (each row's
    `docker` column in jobs/settings.py, with the run's own environment and volumes over
    them), and the run's own parts."""

    name: str
    labels: dict[str, str]
    gpu_uuids: tuple[str, ...]
    settings: dict[str, Any]  # create options (see create_body), from the job's settings
    ports: dict[int, tuple[str, int]] = field(default_factory=dict)  # container port -> (host address, host port)
    tty: bool = False  # a terminal, with stdin open: a shell

    def create_arguments(self) -> dict[str, Any]:
        """The create options, but for the GPUs: the settings, and what every container
        gpuagent makes has. create_body makes the Engine API's request of them."""
        return {
            **self.settings,
            "labels": self.labels,
            "ports": {f"{port}/tcp": host for port, host in self.ports.items()} or None,
            "tty": self.tty,
            "stdin_open": self.tty,
            # an init process that passes signals on and reaps, and no way to gain privileges;
            # the docker socket is never mounted (a volume's reader refuses it)
            "init": True,
            "security_opt": ["no-new-privileges"],
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


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    labels: dict[str, str]


# Where each create option a setting's `docker` column names (jobs/settings.py), and the
# ones every container gets (ContainerSpec), goes in the Engine API's create body: the
# container's config, or its HostConfig. An option not here is refused, not dropped.
_CONFIG_FIELDS = {
    "image": "Image",
    "command": "Cmd",
    "environment": "Env",
    "working_dir": "WorkingDir",
    "user": "User",
    "labels": "Labels",
    "tty": "Tty",
    "stdin_open": "OpenStdin",
}
_HOST_CONFIG_FIELDS = {
    "mem_limit": "Memory",
    "memswap_limit": "MemorySwap",
    "nano_cpus": "NanoCpus",
    "shm_size": "ShmSize",
    "pids_limit": "PidsLimit",
    "init": "Init",
    "security_opt": "SecurityOpt",
}


def create_body(arguments: Mapping[str, Any], gpu_uuids: tuple[str, ...]) -> dict[str, Any]:
    """ContainerSpec.create_arguments() as the body of the Engine API's POST
    /containers/create: what `docker create` sends for the same options."""
    config: dict[str, Any] = {}
    host: dict[str, Any] = {"NetworkMode": "default"}
    for option, value in arguments.items():
        if value is None:
            continue
        if option in _CONFIG_FIELDS:
            config[_CONFIG_FIELDS[option]] = value
        elif option in _HOST_CONFIG_FIELDS:
            host[_HOST_CONFIG_FIELDS[option]] = value
        elif option == "volumes":
            host["Binds"] = [f"{path}:{bind['bind']}:{bind['mode']}" for path, bind in value.items()]
        elif option == "ports":
            config["ExposedPorts"] = {port: {} for port in value}
            host["PortBindings"] = {port: [{"HostIp": address, "HostPort": str(number)}] for port, (address, number) in value.items()}
        else:
            raise ValueError(f"no Engine API field for the create option {option!r} (host/dockerd.py)")
    if gpu_uuids:
        host["DeviceRequests"] = [{"Driver": "", "Count": 0, "DeviceIDs": list(gpu_uuids), "Capabilities": [["gpu"]], "Options": {}}]
    return {**config, "HostConfig": host}


class Docker:
    """A connection to dockerd: its Engine API, over its unix socket (DOCKER_HOST, as the
    docker CLI reads it, may name another, or tcp:// with DOCKER_TLS_VERIFY and
    DOCKER_CERT_PATH). Every failure comes out as DockerError, with a reason people can
    act on.

    Not the docker SDK: its import alone (requests, urllib3) cost every run ~60 ms, 40 % of
    what a run adds to `docker run` (bench/run_overhead.py); the calls a run makes are a
    dozen plain HTTP requests, made here with the standard library's http.client. Each
    request has a connection of its own, so threads can share one Docker."""

    def __init__(self) -> None:
        self._address = engine_address()
        head = _ping(self._address, timeout=REQUEST_TIMEOUT)
        if head.status != 200:
            reason = head.error or f"/_ping answered {head.status or 'nothing'}"
            raise DockerError(f"docker is unreachable at {self._address}: {reason}", "start dockerd (systemctl start docker)")
        # The Engine API version dockerd speaks, as the docker CLI asks it.
        version = head.headers.get("api-version", "")
        self._api = f"/v{version if version.replace('.', '').isdigit() else FALLBACK_API_VERSION}"

    # -- the Engine API ----------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = REQUEST_TIMEOUT,
        missing_ok: bool = False,
        missing: DockerError | None = None,
    ) -> Any:
        """The JSON dockerd answers (None for an empty answer, or for a missing thing with
        missing_ok); DockerError naming `what` it could not do."""
        target = self._api + path + ("?" + urllib.parse.urlencode(query) if query else "")
        payload = None if body is None else json.dumps(body).encode()
        try:
            status, _, data = _exchange(self._address, method, target, timeout, payload)
        except (OSError, http.client.HTTPException) as err:
            raise self._lost(what, err) from None
        if status == 404:
            if missing_ok:
                return None
            raise missing or DockerError(f"docker could not {what}: not found")
        if status >= 400:
            raise DockerError(f"docker could not {what}: {_message(data)}")
        return json.loads(data) if data.strip() else None

    def _hijack(self, path: str, what: str, query: Mapping[str, Any]) -> socket.socket:
        """The connection of an attach, taken over as `docker attach` does: after dockerd's
        answer head, it carries the container's streams both ways."""
        target = f"{self._api}{path}?{urllib.parse.urlencode(query)}"
        request = f"POST {target} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
        try:
            sock = self._address.socket(REQUEST_TIMEOUT)
            sock.sendall(request.encode())
            head = bytearray()
            # a byte at a time: what follows the head is the container's, and stays unread
            while not head.endswith(b"\r\n\r\n"):
                byte = sock.recv(1)
                if not byte or len(head) > MAX_HEAD:
                    raise ConnectionError("dockerd closed the connection before it answered")
                head += byte
            sock.settimeout(None)
        except OSError as err:
            raise self._lost(what, err) from None
        status_line = head.split(b"\r\n", 1)[0].split(b" ")
        status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
        if status not in (101, 200):
            sock.close()
            raise DockerError(f"docker could not {what}: it answered {status or 'nothing it could read'}")
        return sock

    def _lost(self, what: str, err: BaseException) -> DockerError:
        return DockerError(f"lost contact with docker at {self._address} (could not {what}): {err}", "is dockerd running? (systemctl status docker)")

    # -- what gpuagent asks ------------------------------------------------------------

    def image_info(self, image: str) -> ImageInfo:
        """What a run needs to know of its image; DockerError when it is not on this host."""
        not_here = DockerError(f"image {image} is not on this host", f"docker pull {image} (or build it) before the next run")
        attrs = self._request("GET", f"/images/{_quoted(image)}/json", f"inspect image {image}", missing=not_here)
        digests = attrs.get("RepoDigests") or [attrs["Id"]]
        return ImageInfo(user=(attrs.get("Config") or {}).get("User") or "", digest=digests[0])

    def create(self, spec: ContainerSpec) -> Container:
        arguments = spec.create_arguments()
        body = create_body(arguments, spec.gpu_uuids)
        created = self._request("POST", "/containers/create", "create the container", query={"name": spec.name}, body=body)
        return Container(id=created["Id"], name=spec.name, labels=dict(spec.labels))

    def start(self, container: Container) -> None:
        self._request("POST", f"/containers/{container.id}/start", "start the container")

    def attach(self, container: Container) -> Iterator[bytes]:
        """The container's stdout and stderr, as byte chunks, from its start to its exit
        (attach before starting it, as `docker run` does, to miss nothing at the start).

        The stream alone, as `docker run` asks: dockerd joins the attach to the container's
        streams before it answers, so nothing the container writes after the answer is
        missed. Asking for its logs as well (`logs=1`) makes dockerd replay its log file
        after that join, and what the container writes in between arrives twice or not at
        all, or the stream outlives the container (dockerd 20.10; seen in a run's journal)."""
        query = {"stream": 1, "stdout": 1, "stderr": 1}
        return _frames(self._hijack(f"/containers/{container.id}/attach", "attach to the container", query))

    def attach_terminal(self, container: Container) -> socket.socket:
        """The container's terminal as a socket: what is written to it is its input, what
        is read from it its output (attach before starting it, as `docker run -it` does)."""
        query = {"stream": 1, "stdin": 1, "stdout": 1, "stderr": 1}  # no logs: see attach()
        return self._hijack(f"/containers/{container.id}/attach", "attach to the container's terminal", query)

    def resize(self, container: Container, rows: int, columns: int) -> None:
        """Tell the container's terminal its size; one that is gone does not mind."""
        self._request(
            "POST", f"/containers/{container.id}/resize", "resize the container's terminal", query={"h": rows, "w": columns}, missing_ok=True
        )

    def output_lines(self, chunks: Iterator[bytes]) -> Iterator[str]:
        try:
            yield from split_lines(chunks)
        except OSError as err:
            raise self._lost("follow the container's output", err) from None

    def wait(self, container: Container) -> None:
        """Block until the container is not running (returns at once if it never started)."""
        self._request("POST", f"/containers/{container.id}/wait", "wait for the container", query={"condition": "not-running"}, timeout=None)

    def stop(self, container: Container, grace: int) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        self._request(
            "POST", f"/containers/{container.id}/stop", "stop the container", query={"t": grace}, timeout=grace + REQUEST_TIMEOUT, missing_ok=True
        )

    def hang_up(self, container: Container) -> None:
        """SIGHUP, what a terminal that closes sends: an interactive shell, which ignores
        SIGTERM, exits on it. A container that has ended already does not mind."""
        with contextlib.suppress(DockerError):
            self._request("POST", f"/containers/{container.id}/kill", "hang up the container", query={"signal": "SIGHUP"}, missing_ok=True)

    def exit_state(self, container: Container) -> ExitState:
        state = self._request("GET", f"/containers/{container.id}/json", "inspect the container")["State"]
        return ExitState(exit_code=state.get("ExitCode"), oom_killed=bool(state.get("OOMKilled")))

    def remove(self, container: Container) -> None:
        self._request("DELETE", f"/containers/{container.id}", "remove the container", query={"force": 1}, missing_ok=True)

    def job_containers(self, job: str) -> list[Container]:
        """The containers of `job` (a run's or a session's owner), running or not."""
        return self._containers({"all": 1, "filters": json.dumps({"label": [f"{LABEL_JOB}={job}"]})})

    def job_of_containers(self) -> dict[str, str]:
        """The job of each running container gpuagent started, by container id."""
        return {container.id: container.labels[LABEL_JOB] for container in self._containers({"filters": json.dumps({"label": [LABEL_JOB]})})}

    def _containers(self, query: Mapping[str, Any]) -> list[Container]:
        listed = self._request("GET", "/containers/json", "list containers", query=query)
        return [Container(id=item["Id"], name=(item.get("Names") or ["/?"])[0].lstrip("/"), labels=item.get("Labels") or {}) for item in listed]

    def info(self) -> dict:
        """`docker info` as dockerd reports it (ServerVersion, Runtimes, ...)."""
        return self._request("GET", "/info", "read docker info")


def _frames(sock: socket.socket) -> Iterator[bytes]:
    """The payloads of an attach stream without a terminal: stdout and stderr as frames,
    each an 8-byte header (the stream, then the payload's size) and the payload."""
    reader = sock.makefile("rb")
    try:
        while header := reader.read(8):
            if len(header) < 8:
                return
            payload = reader.read(int.from_bytes(header[4:8], "big"))
            if payload:
                yield payload
    finally:
        reader.close()
        sock.close()


def _message(data: bytes) -> str:
    """What dockerd says went wrong: its JSON `message`, else its answer's first line."""
    try:
        return str(json.loads(data)["message"]).strip()
    except (ValueError, KeyError, TypeError):
        return data.decode("utf-8", errors="replace").strip().splitlines()[0] if data.strip() else "no reason given"


def _quoted(name: str) -> str:
    return urllib.parse.quote(name, safe="/:")


def answers(timeout: float = 2.0) -> bool:
    """Whether dockerd answers its /_ping: the dispatcher asks before it starts runs, so
    that while dockerd restarts, waiting runs stay waiting rather than fail."""
    try:
        return _ping(engine_address(), timeout).status == 200
    except DockerError:
        return True  # a DOCKER_HOST gpuagent cannot use: the run itself will say so


@dataclass(frozen=True)
class EngineAddress:
    """Where dockerd's Engine API is: a unix socket's path, or a host and port (with the
    TLS client context DOCKER_TLS_VERIFY and DOCKER_CERT_PATH make)."""

    unix_path: str | None = None
    host: str = ""
    port: int = 0
    tls: ssl.SSLContext | None = None

    def __str__(self) -> str:
        return f"unix://{self.unix_path}" if self.unix_path is not None else f"tcp://{self.host}:{self.port}"

    def socket(self, timeout: float | None) -> socket.socket:
        if self.unix_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(self.unix_path)
            except OSError:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        return self.tls.wrap_socket(sock, server_hostname=self.host) if self.tls else sock

    def connection(self, timeout: float | None) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("docker", timeout=timeout)
        connection.sock = self.socket(timeout)
        return connection


def engine_address() -> EngineAddress:
    """Where DOCKER_HOST says dockerd is, as the docker CLI reads it: unix://PATH (the
    default, /var/run/docker.sock) or tcp://HOST:PORT, over TLS when DOCKER_TLS_VERIFY is
    set (the certificates in DOCKER_CERT_PATH, default ~/.docker)."""
    docker_host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if docker_host.startswith("unix://"):
        return EngineAddress(unix_path=docker_host.removeprefix("unix://"))
    parsed = urllib.parse.urlsplit(docker_host)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "tcp" or not parsed.hostname or port is None:
        raise DockerError(
            f"DOCKER_HOST={docker_host} is not a unix:// socket or a tcp://HOST:PORT address", "unset DOCKER_HOST, or point it at dockerd"
        )
    tls = None
    if os.environ.get("DOCKER_TLS_VERIFY"):
        certs = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
        try:
            tls = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
            tls.load_cert_chain(os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem"))
        except (OSError, ssl.SSLError) as err:
            raise DockerError(
                f"cannot read docker's TLS certificates in {certs}: {err}", "set DOCKER_CERT_PATH to the directory of ca.pem, cert.pem and key.pem"
            ) from None
    return EngineAddress(host=parsed.hostname, port=port, tls=tls)


@dataclass(frozen=True)
class _PingHead:
    status: int  # 0: no answer
    headers: dict[str, str]  # by lower-case name
    error: str = ""  # why there was no answer


def _ping(address: EngineAddress, timeout: float) -> _PingHead:
    """The head of dockerd's answer to GET /_ping: whether it is there, and which Engine
    API version it speaks (its API-Version header)."""
    try:
        status, headers, _ = _exchange(address, "GET", "/_ping", timeout)
    except (OSError, http.client.HTTPException) as err:
        return _PingHead(0, {}, str(err) or type(err).__name__)
    return _PingHead(status, headers)


def _exchange(
    address: EngineAddress, method: str, target: str, timeout: float | None, payload: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own: the answer's status, headers (by
    lower-case name) and body. OSError or HTTPException when dockerd cannot be reached."""
    connection = address.connection(timeout)
    try:
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, target, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()
