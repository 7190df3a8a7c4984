"""images/notebook, built through the real Dockerfiles (on a light Debian python, offline
from wheels), run the way `gpuagent notebook start` runs it: docker --init, the port
published on 127.0.0.1 only, the token in JUPYTER_TOKEN, and jupyter_command's options.
The server wants the token, refuses a Host that is not local, runs as the image's user,
is the pinned JupyterLab, accepts every option, and stops by itself when idle (exit 0),
culling its idle kernel first.

The idle server is started first and left to count down while the other tests run:
jupyter looks for idleness once a minute, so its test ends a minute or so in."""

import json
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime

import pytest

from gpuagent.sessions.jupyterlab import CONTAINER_PORT, TOKEN_VARIABLE, jupyter_command
from tests.support.images import ensure_notebook_image, notebook_versions

LABEL = "gpuagent-test.notebook"
TRAINER_UID = 1000  # images/runtime's user
IDLE_TIMEOUT = 5
# From the server's start: its first idleness check comes 60 s after it starts listening.
IDLE_EXIT_WITHIN = 90
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy: loopback


class Notebook:
    def __init__(self, container, port: int, token: str, idle_timeout: int):
        self.container, self.port, self.token, self.idle_timeout = container, port, token, idle_timeout
        self.ready_seconds: float | None = None

    def request(self, path: str, *, token: str | None = None, method: str = "GET", host: str | None = None) -> tuple[int, bytes]:
        """Status and body; an HTTP error status is returned, not raised."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method, data=b"{}" if method == "POST" else None)
        if token is not None:
            request.add_header("Authorization", f"token {token}")
        if host is not None:
            request.add_header("Host", host)
        try:
            with _HTTP.open(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def logs(self) -> str:
        return self.container.logs().decode(errors="replace")

    def wait_ready(self, started: float, timeout: float = 60) -> None:
        deadline = started + timeout
        while time.monotonic() < deadline:
            self.container.reload()
            if self.container.status not in ("created", "running"):
                raise AssertionError(f"the notebook container is {self.container.status} before it answered:\n{self.logs()}")
            try:
                status, _ = self.request("/api/status", token=self.token)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = None  # not listening yet (or docker's proxy has nothing behind it yet)
            if status == 200:
                self.ready_seconds = time.monotonic() - started
                return
            time.sleep(0.2)
        raise AssertionError(f"/api/status did not answer 200 within {timeout} s:\n{self.logs()}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_notebook(docker_client, image: str, idle_timeout: int) -> Notebook:
    """As gpuagent will start it; the caller removes the container."""
    port, token = free_port(), secrets.token_urlsafe(24)
    started = time.monotonic()
    container = docker_client.containers.run(
        image,
        list(jupyter_command(idle_timeout)),
        detach=True,
        init=True,
        ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", port)},
        environment={TOKEN_VARIABLE: token},
        labels={LABEL: "1"},
    )
    notebook = Notebook(container, port, token, idle_timeout)
    try:
        notebook.wait_ready(started)
    except BaseException:
        container.remove(force=True)
        raise
    return notebook


@pytest.fixture(scope="module")
def notebook_image(docker_client) -> str:
    return ensure_notebook_image()


@pytest.fixture(scope="module", autouse=True)
def idle_notebook(docker_client, notebook_image):
    """A notebook that is left idle from the start but for one kernel, started at once."""
    notebook = start_notebook(docker_client, notebook_image, IDLE_TIMEOUT)
    try:
        status, body = notebook.request("/api/kernels", token=notebook.token, method="POST")
        assert status == 201, f"starting a kernel: {status} {body[:500]!r}"
        notebook.kernel_id = json.loads(body)["id"]
        yield notebook
    finally:
        notebook.container.remove(force=True)


@pytest.fixture(scope="module")
def notebook(docker_client, notebook_image):
    """A notebook with a long idle timeout, for the tests that ask it things."""
    notebook = start_notebook(docker_client, notebook_image, 3600)
    try:
        yield notebook
    finally:
        notebook.container.remove(force=True)


def test_the_api_wants_the_token(notebook):
    print(f"\nfrom container start to /api/status 200: {notebook.ready_seconds:.2f} s")
    assert notebook.ready_seconds < 30

    status, body = notebook.request("/api/status", token=notebook.token)
    assert status == 200 and "started" in json.loads(body)
    assert notebook.request("/api/status")[0] == 403
    assert notebook.request("/api/status", token="wrong-" + notebook.token)[0] == 403
    assert notebook.request("/api/kernels", token="wrong-" + notebook.token)[0] == 403
    assert notebook.request(f"/lab?token={notebook.token}")[0] == 200


def test_a_host_header_that_is_not_local_is_refused(notebook):
    # allow_remote_access=False: a page whose DNS name was rebound to 127.0.0.1 still
    # sends its own name; the tunnel's and the host's own requests name a local one.
    assert notebook.request("/api/status", token=notebook.token, host=f"evil.example:{notebook.port}")[0] == 403
    assert notebook.request("/api/status", token=notebook.token, host=f"localhost:{notebook.port}")[0] == 200
    assert "Blocking request with non-local 'Host' evil.example" in notebook.logs()


def test_the_server_runs_as_the_images_user(notebook):
    top = notebook.container.top(ps_args="-o pid,ruid,euid,args")
    titles = top["Titles"]
    processes = [dict(zip(titles, row, strict=True)) for row in top["Processes"]]
    servers = [p for p in processes if "jupyter" in p["COMMAND"]]
    assert servers, processes
    for process in processes:  # docker's init and the server
        assert (int(process["RUID"]), int(process["EUID"])) == (TRAINER_UID, TRAINER_UID), process


def test_nothing_but_the_server_listens(notebook):
    # A kernel's ports are on 127.0.0.1 of the container; this notebook has none yet.
    result = notebook.container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    assert result.exit_code == 0, result.output
    listening = set()
    for line in result.output.decode().splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
            address, port = fields[1].rsplit(":", 1)
            listening.add((address.strip("0") or "any", int(port, 16)))
    assert listening == {("any", CONTAINER_PORT)}, listening


def test_it_is_the_pinned_jupyterlab(notebook):
    versions = notebook_versions()
    lab = notebook.container.exec_run(["jupyter", "lab", "--version"])
    assert (lab.exit_code, lab.output.decode().strip()) == (0, versions["JUPYTERLAB_VERSION"])
    server = notebook.container.exec_run(["python", "-c", "import jupyter_server; print(jupyter_server.__version__)"])
    assert (server.exit_code, server.output.decode().strip()) == (0, versions["JUPYTER_SERVER_VERSION"])


def test_every_option_of_jupyter_command_is_known_and_applied(notebook, idle_notebook):
    options = [arg for arg in jupyter_command(3600) if re.match(r"--\w+\.\w+=", arg)]
    # traitlets ignores an option of a class the server never makes, silently: ask each
    # class named whether it has that configurable trait and takes the value.
    check = """
import json, sys
from jupyter_server.serverapp import ServerApp
from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
from jupyter_server_terminals.terminalmanager import TerminalManager
classes = {c.__name__: c for c in (ServerApp, MappingKernelManager, TerminalManager)}
problems = []
for option in json.loads(sys.argv[1]):
    name, value = option[2:].split("=", 1)
    cls, trait = name.split(".")
    traits = classes[cls].class_traits(config=True) if cls in classes else {}
    if trait not in traits:
        problems.append(f"{option}: no configurable {name}")
        continue
    try:
        traits[trait].validate(None, traits[trait].from_string(value))
    except Exception as e:
        problems.append(f"{option}: {e}")
print("\\n".join(problems))
"""
    result = notebook.container.exec_run(["python", "-c", check, json.dumps(options)])
    assert (result.exit_code, result.output.decode().strip()) == (0, "")

    for server in (notebook, idle_notebook):
        log = server.logs()
        assert not re.search(r"not recognized|unrecognized|unknown", log, re.IGNORECASE), log
        assert f"Will shut down after {server.idle_timeout} seconds with no kernels" in log, log


def test_an_idle_notebook_culls_its_kernel_and_stops_itself_with_exit_code_0(idle_notebook):
    container = idle_notebook.container
    result = container.wait(timeout=IDLE_EXIT_WITHIN + 30)
    container.reload()
    state = container.attrs["State"]
    log = idle_notebook.logs()
    lifetime = _seconds(state["FinishedAt"]) - _seconds(state["StartedAt"])
    print(f"\nidle notebook (timeout {IDLE_TIMEOUT} s) stopped itself {lifetime:.1f} s after its start")

    assert (result["StatusCode"], state["OOMKilled"]) == (0, False), log
    assert f"Culling kernels with idle durations > {IDLE_TIMEOUT} seconds at {IDLE_TIMEOUT} second intervals" in log, log
    assert "Culling kernels even with connected clients" in log
    assert "Culling kernels even if busy" not in log
    # Its state is 'starting' or 'idle' (no client ever connected): either is culled, 'busy' is not.
    assert re.search(rf"Culling '(starting|idle)' kernel '[^']*' \({idle_notebook.kernel_id}\) .* seconds of inactivity", log), log
    assert re.search(r"No kernels for \d+ seconds; shutting down", log), log
    assert lifetime < IDLE_EXIT_WITHIN, "at its first check for idleness"


def _seconds(timestamp: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as seconds since the epoch."""
    whole, _, fraction = timestamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + (fraction or "0"))
