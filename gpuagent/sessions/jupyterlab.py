"""A notebook: JupyterLab in one container, on 127.0.0.1 of the host, behind a token.

What JupyterLab is told, and how it is reached. Nothing here looks at the host.
"""

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration

if TYPE_CHECKING:  # the CLI reads this module's defaults at start-up: the Job only when run
    from gpuagent.jobs.job import Job

# Where JupyterLab listens inside its container; docker publishes it on 127.0.0.1 only.
CONTAINER_PORT = 8888
DEFAULT_IDLE_TIMEOUT = 2 * 3600
DEFAULT_MAX_TIME = 12 * 3600
FIRST_PORT = 8888
# Below it, a port needs privileges; above it, the kernel's ephemeral range begins.
PORT_RANGE = range(1024, 32768)
# The variable JupyterLab reads its token from: not on the command line, which every
# user of the host can read in `ps`.
TOKEN_VARIABLE = "JUPYTER_TOKEN"


def jupyter_command(idle_timeout: int) -> tuple[str, ...]:
    """JupyterLab, stopping itself after `idle_timeout` seconds idle: kernels and
    terminals idle that long are shut down (a kernel connected to a tab or not), then the
    server, once it has no kernel, no terminal and no request for that long. A kernel
    busy running a cell is never culled. A visible JupyterLab tab asks for the kernel list
    every 10 s, which counts as use: the server waits for it to close (or --max-time).
    Jupyter looks for an idle server once a minute, so it stops up to a minute late."""
    cull_interval = min(idle_timeout, 300)
    return (
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=0.0.0.0",  # the container's own addresses: docker publishes it on the host's loopback only
        f"--port={CONTAINER_PORT}",
        "--ServerApp.port_retries=0",
        # Requests must name a local host: a page of another site cannot reach it by
        # rebinding its DNS name to 127.0.0.1 (the tunnel's requests name localhost).
        "--ServerApp.allow_remote_access=False",
        f"--ServerApp.shutdown_no_activity_timeout={idle_timeout}",
        f"--MappingKernelManager.cull_idle_timeout={idle_timeout}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        "--MappingKernelManager.cull_connected=True",
        "--MappingKernelManager.cull_busy=False",
        f"--TerminalManager.cull_inactive_timeout={idle_timeout}",
        f"--TerminalManager.cull_interval={cull_interval}",
    )


@dataclass(frozen=True)
class Address:
    """Where a notebook is reached: the host's loopback, and through an SSH tunnel."""

    port: int
    token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/lab?token={self.token}"

    def tunnel(self, login: str) -> str:
        """The command a laptop runs to reach the notebook at the same URL; `login` is
        how it reaches this host by SSH (user@host)."""
        return f"ssh -N -L {self.port}:127.0.0.1:{self.port} {login}"


def check_port(port: int, label: str = "--port") -> int:
    if port not in PORT_RANGE:
        raise InvalidInput(
            f"{label} {port} is outside {PORT_RANGE.start}-{PORT_RANGE.stop - 1}",
            "pick an unprivileged port below the kernel's ephemeral range, e.g. 8888",
        )
    return port


def check_times(idle_timeout: int, max_time: int) -> None:
    if idle_timeout > max_time:
        raise InvalidInput("--idle-timeout is longer than --max-time", "make --max-time the longer one (it ends the notebook, busy or not)")


@dataclass(frozen=True)
class NotebookSpec:
    """What `notebook start` decided, for the agent that serves it: kept, with its token,
    in a 0600 file until the notebook ends (sessions/live_notebooks.py)."""

    name: str
    settings: dict[str, Any]  # sessions/spec.py's SESSION_FIELDS, as a job file holds them
    port: int  # on the host's 127.0.0.1
    token: str
    idle_timeout: int  # seconds
    max_time: int  # seconds
    like: str | None = None  # the job it took its environment from
    started_at: float = 0.0

    @property
    def address(self) -> Address:
        return Address(self.port, self.token)

    def job(self) -> "Job":
        """The Job the notebook runs: JupyterLab in the environment of its settings, for
        at most its max time, its token in the container's environment."""
        from gpuagent.sessions.spec import session_job

        job = session_job(self.name, self.settings, command=jupyter_command(self.idle_timeout), timeout=self.max_time)
        return dataclasses.replace(job, env=(*job.env, (TOKEN_VARIABLE, self.token)))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "NotebookSpec":
        return cls(**json.loads(text))


def ending(status: str, reason: str, spec: NotebookSpec) -> str:
    """A notebook's end in its own words: JupyterLab stopping itself is its idle timeout
    at work, the max time is no failure, and a missing `jupyter` is the image's fault."""
    from gpuagent.runs.record import Status  # not at import: the CLI reads this module at start-up

    if status == Status.SUCCEEDED:
        return f"JupyterLab shut itself down: idle for its --idle-timeout {format_duration(spec.idle_timeout)} (or File > Shut Down)"
    if status == Status.TIMED_OUT:
        return f"reached its --max-time {format_duration(spec.max_time)} and was stopped"
    if status == Status.STOPPED:
        return "stopped by `gpuagent notebook stop` (or a signal to its agent)"
    if reason == f"exit {COMMAND_NOT_FOUND}":
        return f"exit {COMMAND_NOT_FOUND}: the image has no `jupyter` command (build images/notebook on it and give that as --image)"
    return reason


COMMAND_NOT_FOUND = 127
