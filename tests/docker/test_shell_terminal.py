"""`gpuagent shell JOB`: a terminal (or one command) in a job's exact environment, against
the host's real dockerd.

The terminal cases run the real CLI in tmux, a real terminal: keys go in with send-keys,
the screen comes back with capture-pane. The GPU cases use the simulated NVML host
(tests/gpu_sim) and dockerd's stub nvidia hook."""

import contextlib
import os
import select
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from gpuagent.host.dockerd import LABEL_JOB
from gpuagent.runs.attempt import STOPPED_REASON
from gpuagent.runs.reservations import Reservations
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB
from tests.support.agent import AgentHome, wait_for
from tests.support.terminal import EXITED, Tmux

MiB = 1 << 20
NOBODY = "65534"
JOB = "shterm"
SHELL = f"shell/{JOB}"
# Every shell these tests open: distinct names, so a shell of another test run is left alone
OUR_SHELLS = {f"shell/{name}" for name in (JOB, "shbash", "shgpu", "shbig")}
ROOMY = "GPU-11111111-bbbb-0000-0000-000000000000"
PROMPT = "/ $"  # busybox ash's, as nobody in /


@pytest.fixture
def home(tmp_path) -> AgentHome:
    return AgentHome(tmp_path / "agent")


@pytest.fixture(autouse=True)
def no_shell_containers_left(docker_client):
    """A test that fails may leave one of its shells' containers: the next test starts without."""
    import docker.errors

    yield
    for subject in OUR_SHELLS:
        for container_id in containers(docker_client, subject):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):  # 409: being removed already
                docker_client.api.remove_container(container_id, force=True)


@pytest.fixture
def dev_job(home, tmp_path, busybox_image) -> AgentHome:
    """Job JOB on busybox: an env variable, an env file (0600), a read-only volume
    holding a file, a memory limit."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "file").write_text("from-the-volume\n")
    env_file = tmp_path / "dev.env"
    env_file.write_text("SECRET=from-the-env-file\n")
    env_file.chmod(0o600)
    home.write_job(JOB, busybox_image, ["true"], env=["FOO=bar"], volumes=[f"{data}:/data:ro"], env_file=str(env_file), memory="64m")
    return home


def containers(docker_client, subject: str = SHELL, running_only: bool = False) -> list[str]:
    """The ids of the containers labelled as `subject`'s (from one list call: the SDK's
    containers.list inspects each one after, and fails on one removed in between)."""
    listed = docker_client.api.containers(all=not running_only, filters={"label": f"{LABEL_JOB}={subject}"})
    return [entry["Id"] for entry in listed]


def shell_without_terminal(home: AgentHome, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`gpuagent shell ARGS` with pipes for stdin, stdout and stderr: no terminal."""
    return subprocess.run(home.command("shell", *args), env=home.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def terminal(tmp_path, dev_job):
    """Open a tmux terminal running `gpuagent shell ARGS`, its shell's prompt up."""
    opened = []

    def open_terminal(*args: str) -> Tmux:
        tmux = Tmux(tmp_path, dev_job.env, dev_job.command("shell", *args))
        opened.append(tmux)
        tmux.wait_screen(PROMPT)
        return tmux

    yield open_terminal
    for tmux in opened:
        tmux.close()


def agent_is_gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped by whoever inherited it counts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


# -- in a terminal ----------------------------------------------------------------------


def test_a_terminal_shell_is_in_the_jobs_environment_and_ends_with_its_exit_status(dev_job, terminal, docker_client):
    tmux = terminal(JOB)
    [container_id] = containers(docker_client)
    container = docker_client.containers.get(container_id)
    assert container.attrs["Config"]["Tty"] is True
    assert container.attrs["Config"]["User"] == f"{NOBODY}:{NOBODY}", "the image's user is root: the shell runs as nobody"
    assert container.attrs["HostConfig"]["Memory"] == 64 * MiB
    assert "BusyBox" in tmux.screen(), "busybox has no bash: the shell is its sh"

    tmux.type('echo "foo=$FOO secret=$SECRET"')
    tmux.wait_screen("foo=bar secret=from-the-env-file")
    tmux.type('echo "data=$(cat /data/file) uid=$(id -u)"')
    tmux.wait_screen(f"data=from-the-volume uid={NOBODY}")
    tmux.type("touch /data/new 2>/dev/null || echo read-only-$((1+1))")
    tmux.wait_screen("read-only-2")

    tmux.type('echo "size=$(stty size)"')
    tmux.wait_screen("size=40 120")

    tmux.type("exit 4")
    tmux.wait_screen(f"{EXITED} 4]")
    assert containers(docker_client) == [], "the shell's container is removed when it exits"
    run = dev_job.last_run(SHELL)
    assert (run.status, run.exit_code, run.reason) == ("failed", 4, "exit 4")
    assert run.container_id == container.id
    assert tmux.agent_stderr() == "", "a shell that ran says nothing of its own"
    history = dev_job.run("history", SHELL)
    assert history.returncode == 0, history.stderr
    [row] = [line for line in history.stdout.splitlines() if run.run_id in line]
    assert SHELL in row and "failed" in row and "exit 4" in row


def test_the_containers_terminal_follows_the_window_size(terminal):
    tmux = terminal(JOB)
    tmux.type('echo "size=$(stty size)"')
    tmux.wait_screen("size=40 120")

    tmux.tmux("resize-window", "-t", tmux.session, "-x", "100", "-y", "30")
    # The container's side gets the new size after SIGWINCH reaches the agent: the loop
    # waits for it in the container, so a terminal that never follows times out.
    tmux.type('clear; while [ "$(stty size)" != "30 100" ]; do sleep 0.1; done; echo "resized=$(stty size)"')
    tmux.wait_screen("resized=30 100", timeout=10)

    tmux.tmux("resize-window", "-t", tmux.session, "-x", "150", "-y", "50")  # and growing
    tmux.type('clear; while [ "$(stty size)" != "50 150" ]; do sleep 0.1; done; echo "resized=$(stty size)"')
    tmux.wait_screen("resized=50 150", timeout=10)

    tmux.type("exit")
    tmux.wait_screen(f"{EXITED} 0]")


def test_ctrl_c_reaches_the_containers_shell_and_the_session_goes_on(dev_job, terminal, docker_client):
    tmux = terminal(JOB)
    tmux.type("echo sleeping-$((1+1)); sleep 300")
    tmux.wait_screen("sleeping-2")
    tmux.tmux("send-keys", "-t", tmux.session, "C-c")
    # The sleep ends and the shell prompts again (keys typed before that may be flushed
    # with the interrupt): then the session is still there to type in.
    try:
        wait_for(lambda: PROMPT in tmux.screen().partition("sleep 300")[2], timeout=10, what="a new prompt after Ctrl-C")
    except AssertionError as err:
        raise AssertionError(f"{err}; the screen:\n{tmux.screen()}\nthe agent's stderr:\n{tmux.agent_stderr()}") from None
    tmux.type('echo "after=$((6*7))"')
    screen = tmux.wait_screen("after=42", timeout=10)
    assert EXITED not in screen, "Ctrl-C must not end the session"
    assert len(containers(docker_client, running_only=True)) == 1

    tmux.type("exit 0")
    tmux.wait_screen(f"{EXITED} 0]")
    run = dev_job.last_run(SHELL)
    assert (run.status, run.exit_code) == ("succeeded", 0)


def run_state(home: AgentHome, tmux: Tmux) -> str:
    """The shell's record and the agent's stderr, for a failure's message."""
    run = home.last_run(SHELL)
    return f"record: {run.status} ({run.reason}), exit {run.exit_code}; the agent's stderr:\n{tmux.agent_stderr()}"


# A terminal closed under a shell: "a few seconds" for its container to go.
HANG_UP_SECONDS = 5


def test_closing_the_terminal_leaves_no_container(dev_job, terminal, docker_client):
    tmux = terminal(JOB)
    assert len(containers(docker_client, running_only=True)) == 1
    agent_pid = dev_job.last_run(SHELL).agent_pid
    tmux.kill_session()  # the terminal goes: the agent gets SIGHUP

    try:
        wait_for(lambda: not containers(docker_client, running_only=True), timeout=HANG_UP_SECONDS, what="the shell's container to stop")
        wait_for(lambda: not containers(docker_client), timeout=HANG_UP_SECONDS, what="the shell's container to be removed")
        wait_for(lambda: agent_is_gone(agent_pid), timeout=HANG_UP_SECONDS, what="the agent to exit")
    except AssertionError as err:
        raise AssertionError(f"{err}; {run_state(dev_job, tmux)}") from None


def test_a_hang_up_stops_the_shell_within_seconds_though_its_shell_ignores_sigterm(dev_job, terminal, docker_client):
    """SIGHUP handled while the terminal still works, as it is when the signal wins the
    race with the terminal's closing: an interactive sh ignores SIGTERM, so a plain
    `docker stop` leaves it running for the whole stop grace (10s), then kills it."""
    tmux = terminal(JOB)
    agent_pid = dev_job.last_run(SHELL).agent_pid
    os.kill(agent_pid, signal.SIGHUP)

    try:
        wait_for(lambda: not containers(docker_client), timeout=HANG_UP_SECONDS, what="the shell's container to be gone")
    except AssertionError as err:
        raise AssertionError(f"{err}; {run_state(dev_job, tmux)}") from None
    tmux.wait_screen(f"{EXITED} ")
    run = dev_job.last_run(SHELL)
    assert (run.status, run.reason) == ("stopped", STOPPED_REASON), run_state(dev_job, tmux)


def test_closing_the_terminal_records_the_shell_as_stopped(dev_job, terminal):
    tmux = terminal(JOB)
    agent_pid = dev_job.last_run(SHELL).agent_pid
    tmux.kill_session()
    wait_for(lambda: agent_is_gone(agent_pid), timeout=20, what="the agent to exit")

    run = dev_job.last_run(SHELL)
    assert (run.status, run.reason) == ("stopped", STOPPED_REASON), run_state(dev_job, tmux)
    assert "Traceback" not in tmux.agent_stderr()


@pytest.mark.parametrize("cleaner", ["the next shell", "reap"])
def test_a_shell_whose_agent_is_killed_outright_leaves_no_container(dev_job, terminal, docker_client, cleaner):
    """SIGKILL: the agent can neither stop nor remove its container, which goes on with
    its stdin held open by dockerd. The next `gpuagent shell` of the job, or `gpuagent
    reap shell/JOB`, finds the agent gone (its pid, and that pid's start time) and
    removes the container, and records the run lost; a live shell's is left alone."""
    killed_tmux = terminal(JOB)
    killed = dev_job.last_run(SHELL)
    live_tmux = terminal(JOB)
    live = dev_job.last_run(SHELL)
    assert live.run_id != killed.run_id and len(containers(docker_client, running_only=True)) == 2
    os.kill(killed.agent_pid, signal.SIGKILL)
    wait_for(lambda: agent_is_gone(killed.agent_pid), timeout=20, what="the agent to die")
    assert len(containers(docker_client, running_only=True)) == 2, "nothing of its own removes it"

    result = dev_job.run("reap", SHELL) if cleaner == "reap" else shell_without_terminal(dev_job, JOB, "--", "true")
    assert result.returncode == 0, result.stderr

    [left] = containers(docker_client)
    assert docker_client.containers.get(left).labels["gpuagent.run-id"] == live.run_id, "the live shell keeps its container"
    closed = next(run for run in dev_job.runs(SHELL) if run.run_id == killed.run_id)
    assert closed.status == "lost" and f"agent pid {killed.agent_pid} gone" in closed.reason, closed
    assert dev_job.last_run(SHELL).status in ("running", "succeeded")
    live_tmux.type("exit 0")
    live_tmux.wait_screen(f"{EXITED} 0]")
    assert containers(docker_client) == []
    assert (next(run for run in dev_job.runs(SHELL) if run.run_id == live.run_id)).status == "succeeded"
    killed_tmux.close()


# -- without a terminal -----------------------------------------------------------------


def test_without_a_terminal_one_command_runs_with_its_output_on_stdout(dev_job, docker_client):
    result = shell_without_terminal(dev_job, JOB, "--", "sh", "-c", "echo $FOO; exit 3")

    assert result.returncode == 3, result.stderr
    assert result.stdout == "bar\n"
    assert containers(docker_client) == []
    run = dev_job.last_run(SHELL)
    assert (run.status, run.exit_code) == ("failed", 3)
    assert dev_job.runs(JOB) == [], "a shell is not a run of its job"


def test_without_a_terminal_the_command_sees_the_jobs_environment(dev_job, docker_client):
    script = 'echo "$FOO $SECRET $(cat /data/file) $(id -u)"; [ -t 0 ] || echo no-tty; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
    result = shell_without_terminal(dev_job, JOB, "--", "sh", "-c", script)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"bar from-the-env-file from-the-volume {NOBODY}", "no-tty", str(64 * MiB)]
    run = dev_job.last_run(SHELL)
    assert (run.status, run.exit_code) == ("succeeded", 0)
    assert containers(docker_client) == []


@pytest.fixture
def bash_image(docker_client, busybox_image):
    """busybox with a /bin/bash of its own (a script saying it ran), and USER 1234."""
    maker = docker_client.containers.run(
        busybox_image, ["sh", "-c", "printf '#!/bin/sh\\necho fake-bash-ran\\n' >/bin/bash && chmod 755 /bin/bash"], detach=True
    )
    try:
        assert maker.wait(timeout=30)["StatusCode"] == 0
        tag = f"gpuagent-test/shell-bash:{uuid.uuid4().hex[:12]}"
        maker.commit(repository=tag.split(":")[0], tag=tag.split(":")[1], conf={"User": "1234", "Cmd": ["sh"]})
    finally:
        maker.remove(force=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def test_the_default_command_is_bash_where_the_image_has_it_as_the_images_user(home, bash_image):
    home.write_job("shbash", bash_image, ["true"])
    default = shell_without_terminal(home, "shbash")
    assert (default.returncode, default.stdout) == (0, "fake-bash-ran\n"), default.stderr

    uid = shell_without_terminal(home, "shbash", "--", "id", "-u")
    assert (uid.returncode, uid.stdout) == (0, "1234\n"), "an image's own (non-root) user is kept"


def test_a_shell_of_a_job_that_does_not_exist_is_refused(home):
    result = shell_without_terminal(home, "shnosuchjob", "--", "true")
    assert result.returncode != 0
    assert "shnosuchjob" in result.stderr
    assert home.runs("shell/shnosuchjob") == []


# -- with a GPU -------------------------------------------------------------------------


@pytest.fixture
def gpu_host(tmp_path) -> FakeGpuHost:
    return FakeGpuHost(tmp_path, gpus=[FakeGpu(uuid=ROOMY, total=80 * GiB, used=50 * GiB)])  # 30 GiB free


@pytest.fixture
def gpu_home(tmp_path, gpu_host) -> AgentHome:
    return AgentHome(tmp_path / "gpu-agent", extra_env=gpu_host.env())


def read_stderr_until(agent: subprocess.Popen, text: str, timeout: float = 20) -> str:
    """The agent's stderr up to the line holding `text`."""
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([agent.stderr], [], [], max(0, left))
        if not ready:
            raise AssertionError(f"no {text!r} on the agent's stderr within {timeout}s; it said:\n{seen}")
        line = agent.stderr.readline()
        if not line:
            raise AssertionError(f"the agent exited ({agent.wait()}) before saying {text!r}; it said:\n{seen}")
        seen += line
    return seen


def test_a_gpu_shell_is_admitted_like_a_run(gpu_home, busybox_image, docker_client):
    gpu_home.write_job("shgpu", busybox_image, ["true"], gpus=1, min_free_vram="20GiB")
    result = shell_without_terminal(gpu_home, "shgpu", "--", "sh", "-c", "echo visible=$NVIDIA_VISIBLE_DEVICES")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"visible={ROOMY}\n"
    run = gpu_home.last_run("shell/shgpu")
    assert (run.status, run.gpu_uuids) == ("succeeded", (ROOMY,))
    assert containers(docker_client, "shell/shgpu") == []
    assert Reservations(gpu_home.root / "runtime").current() == [], "the shell's claim ends with it"


def test_with_no_gpu_free_enough_a_shell_fails_at_once_and_makes_no_container(gpu_home, busybox_image, docker_client):
    gpu_home.write_job("shbig", busybox_image, ["true"], gpus=1, min_free_vram="40GiB", vram_wait="30m")
    started = time.monotonic()
    result = shell_without_terminal(gpu_home, "shbig", "--", "true")
    took = time.monotonic() - started

    assert result.returncode != 0
    assert "needs 1 GPU(s) with 40GiB free" in result.stderr
    assert "skipped-vram" in result.stderr
    assert took < 10, f"took {took:.1f}s: a shell does not wait the job's 30m unless --vram-wait says so"
    run = gpu_home.last_run("shell/shbig")
    assert run.status == "skipped-vram"
    assert "needs 1 GPU(s) with 40GiB free" in run.reason
    assert run.container_id is None
    assert containers(docker_client, "shell/shbig") == []


def test_with_vram_wait_a_shell_waits_for_the_memory_to_free_up(gpu_home, gpu_host, busybox_image):
    gpu_home.write_job("shbig", busybox_image, ["true"], gpus=1, min_free_vram="40GiB")
    agent = subprocess.Popen(
        gpu_home.command("shell", "shbig", "--vram-wait", "60s", "--", "sh", "-c", "echo visible=$NVIDIA_VISIBLE_DEVICES"),
        env=gpu_home.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        read_stderr_until(agent, "waiting for GPU memory")
        gpu_host.update([FakeGpu(uuid=ROOMY, total=80 * GiB, used=10 * GiB)])
        stdout, stderr = agent.communicate(timeout=30)
    finally:
        agent.kill()
        agent.wait()
    assert agent.returncode == 0, stderr
    assert stdout == f"visible={ROOMY}\n"
    assert gpu_home.last_run("shell/shbig").status == "succeeded"


def test_a_running_shell_keeps_its_gpu_memory_claimed(gpu_home, busybox_image, tmp_path):
    flag = tmp_path / "flag"
    flag.mkdir()
    gpu_home.write_job("shgpu", busybox_image, ["true"], gpus=1, min_free_vram="20GiB", volumes=[f"{flag}:/flag:ro"])
    gpu_home.write_job("shtrain", busybox_image, ["true"], gpus=1, min_free_vram="20GiB", vram_policy="fail")
    shell = subprocess.Popen(
        gpu_home.command("shell", "shgpu", "--", "sh", "-c", "while [ ! -e /flag/done ]; do sleep 0.1; done"),
        env=gpu_home.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reservations = Reservations(gpu_home.root / "runtime")
    try:
        [claim] = wait_for(reservations.current, what="the shell's claim")
        assert (claim.holder, claim.gpu_uuid, claim.bytes, claim.lasting) == ("shell/shgpu", ROOMY, 20 * GiB, True)
        wait_for(lambda: gpu_home.last_run("shell/shgpu").container_id, what="the shell's container")

        run = gpu_home.run("run", "shtrain")
        assert run.returncode == 1, run.stderr
        assert gpu_home.last_run("shtrain").status == "skipped-vram", "30GiB free less the shell's 20GiB leaves 10GiB"

        (flag / "done").touch()
        _, stderr = shell.communicate(timeout=30)
    finally:
        shell.kill()
        shell.wait()
    assert shell.returncode == 0, stderr
    assert reservations.current() == []
