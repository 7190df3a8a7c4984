"""Every way a run can end, produced for real and recorded: the status, the reason, the
exit status systemd sees, the log tail, and no container left behind."""

import contextlib
import signal
import sqlite3
import subprocess
import time

import pytest

from gpuagent.host.dockerd import LABEL_JOB
from tests.support.agent import AgentHome, wait_for
from tests.support.docker_proxy import DockerProxy


@pytest.fixture
def home(tmp_path):
    return AgentHome(tmp_path / "agent")


def containers(docker_client, job: str):
    return docker_client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job}"}, ignore_removed=True)


def test_cuda_out_of_memory_in_the_log_is_cuda_oom_with_its_log_tail(home, busybox_image):
    script = "for i in $(seq 1 80); do echo step $i; done; echo 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB' >&2; exit 1"
    home.write_job("cudaoom", busybox_image, ["sh", "-c", script])
    result = home.run("run", "cudaoom")

    assert result.returncode == 1
    run = home.last_run("cudaoom")
    assert (run.status, run.exit_code) == ("cuda-oom", 1)
    tail = run.log_tail.splitlines()
    assert len(tail) == 50, "the last 50 lines are kept"
    # stdout and stderr are separate pipes: where the stderr line lands among the
    # stdout lines is up to the kernel and dockerd, so only stdout's order is checked
    assert [line for line in tail if line.startswith("step")][-1] == "step 80"


def test_a_succeeded_run_keeps_no_log_tail(home, busybox_image):
    home.write_job("fine", busybox_image, ["echo", "ok"])
    assert home.run("run", "fine").returncode == 0
    assert home.last_run("fine").log_tail is None


def test_retries_make_linked_rows_and_stop_at_success(home, tmp_path, busybox_image):
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    # fails twice, then succeeds: the attempt count lives in the volume
    script = "n=$(cat /state/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /state/n; echo attempt $n; [ $n -ge 3 ]"
    home.write_job("flaky", busybox_image, ["sh", "-c", script], volumes=[f"{state}:/state"], retries=3, retry_delay="1s")
    result = home.run("run", "flaky")

    assert result.returncode == 0, result.stderr
    runs = sorted(home.runs("flaky"), key=lambda run: run.attempt)
    assert [(run.attempt, run.status) for run in runs] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert runs[0].first_run_id is None
    assert runs[1].first_run_id == runs[2].first_run_id == runs[0].run_id
    assert result.stderr.count("retrying in 1s") == 2


def test_retries_give_up_after_n_and_do_not_retry_a_timeout(home, busybox_image):
    home.write_job("hopeless", busybox_image, ["sh", "-c", "exit 2"], retries=2, retry_delay="1s")
    assert home.run("run", "hopeless").returncode == 1
    assert sorted(run.attempt for run in home.runs("hopeless")) == [1, 2, 3]

    home.write_job("slow", busybox_image, ["sleep", "60"], timeout="1s", retries=2, retry_delay="1s")
    assert home.run("run", "slow").returncode == 1
    assert [run.status for run in home.runs("slow")] == ["timed-out"]


def test_a_container_ignoring_sigterm_is_killed_after_the_stop_grace(home, busybox_image, docker_client):
    home.write_job("stubborn", busybox_image, ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"], timeout="1s", stop_grace="2s")
    started = time.monotonic()
    result = home.run("run", "stubborn")
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert 3 <= elapsed < 15, f"SIGKILL should follow 2s after SIGTERM, took {elapsed:.1f}s in all"
    run = home.last_run("stubborn")
    assert (run.status, run.exit_code) == ("timed-out", 137)
    assert containers(docker_client, "stubborn") == []


def test_sigkilled_agent_leaves_a_container_that_reap_removes_and_marks_lost(home, busybox_image, docker_client):
    home.write_job("orphan", busybox_image, ["sleep", "600"])
    agent = home.popen("run", "orphan")
    wait_for(lambda: containers(docker_client, "orphan"), what="the run's container")
    agent.send_signal(signal.SIGKILL)
    agent.communicate(timeout=30)
    assert home.last_run("orphan").status == "running"
    assert len(containers(docker_client, "orphan")) == 1, "SIGKILL leaves the container: nobody stopped it"

    result = home.run("reap", "orphan")

    assert result.returncode == 0, result.stderr
    assert containers(docker_client, "orphan") == []
    run = home.last_run("orphan")
    assert run.status == "lost" and "agent died" in run.reason and run.ended_at


def test_the_next_run_reaps_what_a_killed_run_left(home, busybox_image, docker_client):
    home.write_job("phoenix", busybox_image, ["sh", "-c", "sleep 600"])
    agent = home.popen("run", "phoenix")
    wait_for(lambda: containers(docker_client, "phoenix"), what="the run's container")
    agent.send_signal(signal.SIGKILL)
    agent.communicate(timeout=30)
    home.write_job("phoenix", busybox_image, ["echo", "again"])
    result = home.run("run", "phoenix")

    assert result.returncode == 0, result.stderr
    assert sorted(run.status for run in home.runs("phoenix")) == ["lost", "succeeded"]
    assert containers(docker_client, "phoenix") == []


BROKEN_BASE = "schema_version = 1\nname = 'broken'\nimage = 'img'\n"
AT_TWO = "[schedule]\nat = '02:00'\n"


@pytest.mark.parametrize(
    "job_text, reason",
    [
        ("schema_version = 1\nname = 'broken'\nimage = 'img'\n", "missing key 'command'"),
        ("not toml at all [", "not valid TOML"),
        (BROKEN_BASE + "command = 'echo started'\n" + AT_TWO, "command must be a list of strings, got a string"),
        (BROKEN_BASE + "command = ['echo', 'started']\n" + AT_TWO + "persistent = 'false'\n", "schedule.persistent must be a boolean"),
        (BROKEN_BASE.replace("'broken'", "'other'") + "command = ['echo', 'started']\n" + AT_TWO, "is not the file's name"),
        (BROKEN_BASE + "command = ['echo', 'started']\n" + AT_TWO + "[container]\nvolumes = ['/run:/hostrun:ro']\n", "holds the docker socket"),
    ],
)
def test_a_bad_job_file_is_an_error_run(home, docker_client, job_text, reason):
    job_file = home.root / "config" / "jobs" / "broken.toml"
    job_file.parent.mkdir(parents=True, exist_ok=True)
    job_file.write_text(job_text.replace("'img'", "'gpuagent-test/busybox:latest'"))
    result = home.run("run", "broken")

    assert result.returncode == 1
    run = home.last_run("broken")
    assert run.status == "error" and reason in run.reason, run.reason
    assert "started" not in result.stdout and containers(docker_client, "broken") == []


def test_docker_unreachable_is_an_error_run(home, busybox_image, tmp_path):
    home.env["DOCKER_HOST"] = f"unix://{tmp_path}/no-docker.sock"
    home.write_job("nodocker", busybox_image, ["true"])
    result = home.run("run", "nodocker")

    assert result.returncode == 1
    run = home.last_run("nodocker")
    assert run.status == "error" and "docker is unreachable" in run.reason


def test_docker_lost_mid_run_ends_the_run_with_a_clear_reason(home, busybox_image, docker_client, tmp_path):
    proxy = DockerProxy(tmp_path / "docker.sock")
    home.env["DOCKER_HOST"] = proxy.docker_host
    home.write_job("cutoff", busybox_image, ["sh", "-c", "echo running; sleep 600"])
    agent = home.popen("run", "cutoff")
    [container] = wait_for(lambda: containers(docker_client, "cutoff"), what="the run's container")
    wait_for(lambda: b"running" in container.logs(), what="the container's output")
    proxy.cut()
    _, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 1
    run = home.last_run("cutoff")
    assert run.status == "error" and "lost contact with docker" in run.reason
    assert "left behind" in stderr and "gpuagent reap cutoff" in stderr
    home.env.pop("DOCKER_HOST")
    assert home.run("reap", "cutoff").returncode == 0
    assert containers(docker_client, "cutoff") == []


def test_a_locked_database_delays_the_record_but_does_not_lose_it(home, busybox_image):
    home.write_job("patient", busybox_image, ["echo", "done"])
    assert home.run("run", "patient").returncode == 0  # creates the database
    locker = sqlite3.connect(home.root / "state" / "history.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    agent = home.popen("run", "patient")
    time.sleep(8)  # longer than one write waits (5 s)
    locker.execute("COMMIT")
    locker.close()
    _, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 0, stderr
    assert "database is locked" in stderr
    assert [run.status for run in home.runs("patient")] == ["succeeded", "succeeded"]


@pytest.fixture
def tiny_state_dir(home):
    """The agent's state directory on a 1 MiB tmpfs, so the disk can really fill up."""
    state = home.root / "state"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(state)], check=True)
    yield state
    subprocess.run(["umount", str(state)], check=True)


def fill(directory) -> None:
    with open(directory / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


def test_a_full_disk_is_said_plainly_and_the_run_still_ends_cleanly(home, tiny_state_dir, busybox_image, docker_client):
    home.write_job("crowded", busybox_image, ["echo", "trained"])
    assert home.run("run", "crowded").returncode == 0
    fill(tiny_state_dir)
    result = home.run("run", "crowded")

    assert result.returncode == 0, "the run itself succeeded"
    assert result.stdout == "trained\n"
    assert "history database unavailable (database or disk is full)" in result.stderr
    # The record survives in the spool, or, where even its line finds no room (how much
    # SQLite's failed writes give back varies), whole in the journal.
    spool = tiny_state_dir / "unrecorded.jsonl"
    kept = spool.exists() and '"status": "succeeded"' in spool.read_text() and "kept in" in result.stderr
    printed = "was NOT recorded in history" in result.stderr and '"status": "succeeded"' in result.stderr
    assert kept or printed, result.stderr
    assert containers(docker_client, "crowded") == []


@contextlib.contextmanager
def database_locked(home):
    """Another process holds the history database's write lock for the block."""
    locker = sqlite3.connect(home.root / "state" / "history.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        locker.execute("COMMIT")
        locker.close()


def test_a_record_neither_the_database_nor_the_spool_takes_is_printed_whole(home, busybox_image):
    home.write_job("unkept", busybox_image, ["echo", "trained"])
    assert home.run("run", "unkept").returncode == 0
    (home.root / "state" / "unrecorded.jsonl").mkdir()  # the spool cannot be opened
    with database_locked(home):
        result = home.run("run", "unkept")

    assert result.returncode == 0
    assert "was NOT recorded in history" in result.stderr and '"status": "succeeded"' in result.stderr


def test_a_run_the_database_refused_too_long_is_spooled_and_reaches_history_later(home, busybox_image):
    home.write_job("spooled", busybox_image, ["echo", "trained"])
    assert home.run("run", "spooled").returncode == 0
    with database_locked(home):
        result = home.run("run", "spooled")

    assert result.returncode == 0
    assert "kept in" in result.stderr and "unrecorded.jsonl" in result.stderr
    history = home.run("history", "spooled")  # any command that opens the database adds it
    assert history.returncode == 0
    assert [run.status for run in home.runs("spooled")] == ["succeeded", "succeeded"]


def test_reap_stops_a_leftover_container_with_its_jobs_own_stop_grace(home, busybox_image, docker_client, tmp_path):
    # On SIGTERM the container takes 3 s to save its work: the job's grace of 1 s
    # cuts that short, where the default (10 s) would let it finish.
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    script = "trap 'echo term >> /out/log; sleep 3; echo saved >> /out/log; exit 0' TERM; echo up >> /out/log; sleep 600 & wait"
    home.write_job("graceful", busybox_image, ["sh", "-c", script], volumes=[f"{out}:/out"], stop_grace="1s")
    agent = home.popen("run", "graceful")
    wait_for(lambda: (out / "log").exists(), what="the container to start")
    agent.send_signal(signal.SIGKILL)
    agent.communicate(timeout=30)

    result = home.run("reap", "graceful")

    assert result.returncode == 0, result.stderr
    assert (out / "log").read_text() == "up\nterm\n"
    assert containers(docker_client, "graceful") == []


def test_the_recorded_job_hash_is_of_the_file_the_run_loaded(home, busybox_image, tmp_path):
    import hashlib

    state = tmp_path / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    path = home.write_job(
        "rehashed", busybox_image, ["sh", "-c", "touch /state/up; while [ ! -e /state/go ]; do sleep 0.1; done"], volumes=[f"{state}:/state"]
    )
    loaded = path.read_bytes()
    agent = home.popen("run", "rehashed")
    wait_for(lambda: (state / "up").exists(), what="the container to start")
    home.write_job("rehashed", busybox_image, ["true"], volumes=[f"{state}:/state"])  # rewritten mid-run
    (state / "go").touch()
    agent.communicate(timeout=60)

    run = home.last_run("rehashed")
    assert run.status == "succeeded"
    assert run.job_hash == hashlib.sha256(loaded).hexdigest() != hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("result", ["success", "exit-code"])
def test_the_services_reap_after_a_run_that_ended_by_itself_does_no_docker_work(tmp_path, result):
    # docker unreachable: a reap that asked it anything would say so
    home = AgentHome(tmp_path / "agent", extra_env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "SERVICE_RESULT": result})
    home.write_job("clean", "gpuagent-test/busybox:latest", ["true"])

    reaped = home.run("reap", "clean")

    assert (reaped.returncode, reaped.stdout, reaped.stderr) == (0, "", "")
    assert not (home.root / "state" / "history.db").exists()


@pytest.mark.parametrize("result", ["signal", "core-dump", "timeout", "watchdog"])
def test_the_services_reap_after_an_agent_that_was_killed_removes_its_container(home, busybox_image, docker_client, result):
    home.write_job("killed", busybox_image, ["sleep", "600"])
    agent = home.popen("run", "killed")
    wait_for(lambda: containers(docker_client, "killed"), what="the run's container")
    agent.send_signal(signal.SIGKILL)
    agent.communicate(timeout=30)

    reaped = subprocess.run(home.command("reap", "killed"), env={**home.env, "SERVICE_RESULT": result}, capture_output=True, text=True, timeout=60)

    assert reaped.returncode == 0, reaped.stderr
    assert containers(docker_client, "killed") == []
    assert home.last_run("killed").status == "lost"
