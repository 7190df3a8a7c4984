"""`gpuagent run` against the real dockerd: limits, output, outcomes, history, clean-up."""

import signal
import time

import pytest

from gpuagent.host.dockerd import LABEL_JOB, LABEL_RUN, NOBODY
from tests.support.agent import AgentHome, wait_for

MiB = 1024**2


@pytest.fixture
def home(tmp_path):
    return AgentHome(tmp_path / "agent")


def job_containers(docker_client, job: str):
    return docker_client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job}"}, ignore_removed=True)


def test_limits_are_applied_and_seen_inside_the_container(home, docker_client, busybox_image):
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; "
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max; "
        "df -k /dev/shm | tail -1; id -u; sleep 2"
    )
    home.write_job("limits", busybox_image, ["sh", "-c", script], memory="256m", cpus=1.0, shm_size="64m")
    agent = home.popen("run", "limits")
    [container] = wait_for(lambda: job_containers(docker_client, "limits"), what="the run's container")
    config = container.attrs["HostConfig"]
    stdout, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 0, stderr
    assert config["Memory"] == 256 * MiB
    assert config["MemorySwap"] == 256 * MiB, "swap must not be added on top of --memory"
    assert config["NanoCpus"] == 1_000_000_000
    assert config["ShmSize"] == 64 * MiB
    assert config["Init"] is True
    assert "no-new-privileges" in config["SecurityOpt"]
    assert not config["Privileged"]
    assert container.attrs["Config"]["User"] == NOBODY
    run = home.last_run("limits")
    assert (container.labels[LABEL_JOB], container.labels[LABEL_RUN]) == ("limits", run.run_id)

    lines = stdout.split()
    assert str(256 * MiB) in lines
    assert "100000" in lines  # cfs quota: 1 CPU per 100 ms period
    assert "65536" in lines  # /dev/shm size in KiB
    assert "65534" in lines  # nobody
    assert job_containers(docker_client, "limits") == [], "the container must be removed"
    assert (run.status, run.exit_code, run.reason) == ("succeeded", 0, "exit 0")
    assert run.container_id == container.id
    assert run.image == busybox_image


def test_volumes_and_env_arrive(home, tmp_path, busybox_image):
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    outputs.chmod(0o777)
    (inputs / "data.txt").write_text("training data\n")
    env_file = tmp_path / "job.env"
    env_file.write_text("TOKEN=s3cret\nBATCH=32\n")
    env_file.chmod(0o600)
    script = 'cat /data/data.txt; echo "token=$TOKEN batch=$BATCH mode=$MODE"; touch /data/x 2>/dev/null || echo read-only; echo done > /out/result'
    home.write_job(
        "volumes",
        busybox_image,
        ["sh", "-c", script],
        volumes=[f"{inputs}:/data:ro", f"{outputs}:/out"],
        env=["BATCH=64", "MODE=nightly run"],
        env_file=str(env_file),
    )
    result = home.run("run", "volumes")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["training data", "token=s3cret batch=64 mode=nightly run", "read-only"]
    assert (outputs / "result").read_text() == "done\n"


def test_failing_command_is_recorded_failed_with_its_exit_code(home, busybox_image):
    home.write_job("fails", busybox_image, ["sh", "-c", "echo about to fail; exit 3"])
    result = home.run("run", "fails")

    assert result.returncode == 1
    assert "about to fail" in result.stdout
    run = home.last_run("fails")
    assert (run.status, run.exit_code, run.reason) == ("failed", 3, "exit 3")
    assert "failed" in result.stderr


def test_allocation_over_memory_limit_is_oom_killed(home, python_image, docker_client):
    home.write_job("hog", python_image, ["python3", "-c", "b = b'x' * (512 << 20); print(len(b))"], memory="128m")
    result = home.run("run", "hog")

    assert result.returncode == 1
    run = home.last_run("hog")
    assert run.status == "oom-killed", run
    assert run.exit_code == 137
    assert job_containers(docker_client, "hog") == []


def test_timeout_stops_a_sleeping_container(home, busybox_image, docker_client):
    home.write_job("sleepy", busybox_image, ["sleep", "600"], timeout="2s")
    started = time.monotonic()
    result = home.run("run", "sleepy")
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert elapsed < 30, f"the timeout took {elapsed:.1f}s to act"
    run = home.last_run("sleepy")
    assert run.status == "timed-out", run
    assert job_containers(docker_client, "sleepy") == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_agent_stops_the_run_and_leaves_no_container(home, busybox_image, docker_client, signum):
    home.write_job("longrun", busybox_image, ["sh", "-c", "echo started; sleep 600"])
    agent = home.popen("run", "longrun")
    [container] = wait_for(lambda: job_containers(docker_client, "longrun"), what="the run's container")
    wait_for(lambda: b"started" in container.logs(), what="the container's first line")
    agent.send_signal(signum)
    stdout, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 1, stderr
    assert "started" in stdout
    assert job_containers(docker_client, "longrun") == []
    run = home.last_run("longrun")
    assert run.status == "stopped" and run.ended_at is not None


def test_missing_image_is_an_error_and_creates_nothing(home, docker_client):
    home.write_job("noimage", "gpuagent-test/does-not-exist:1", ["true"])
    result = home.run("run", "noimage")

    assert result.returncode == 1
    run = home.last_run("noimage")
    assert run.status == "error"
    assert "not on this host" in run.reason
    assert job_containers(docker_client, "noimage") == []


def test_a_run_does_not_ask_systemd_to_read_its_schedule(home, busybox_image):
    """The timer has read the schedule; a run uses only what the file says of the
    container. A calendar edited by hand into one that never elapses is for sync and
    doctor to refuse, not a reason to fail tonight's run (nor worth ~10 ms of each run)."""
    home.write_job("edited", busybox_image, ["echo", "ran"], schedule={"on": "*-02-30 02:00"})
    result = home.run("run", "edited")

    assert result.returncode == 0, result.stderr
    assert "ran" in result.stdout
    assert home.last_run("edited").status == "succeeded"
    assert "never elapses" in home.run("doctor").stdout, "doctor still reads the schedule, and says what is wrong"


def test_a_second_run_while_one_holds_the_job_is_recorded_as_overlap(home, busybox_image, docker_client):
    home.write_job("single", busybox_image, ["sleep", "600"])
    first = home.popen("run", "single")
    wait_for(lambda: job_containers(docker_client, "single"), what="the first run's container")
    second = home.run("run", "single")
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)

    assert second.returncode == 0, "a skip is not a failure: the next fire will do"
    statuses = sorted(run.status for run in home.runs("single"))
    assert statuses == ["skipped-overlap", "stopped"]


def test_a_job_without_gpus_never_touches_nvml(home, busybox_image):
    home.env["LD_LIBRARY_PATH"] = "/nonexistent"  # no NVIDIA library anywhere
    home.write_job("cpuonly", busybox_image, ["echo", "cpu only"])
    result = home.run("run", "cpuonly")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "cpu only\n"


def test_reap_removes_what_outlived_its_agent_but_not_a_live_run(home, busybox_image, docker_client):
    orphan = docker_client.containers.run(busybox_image, ["sleep", "600"], labels={LABEL_JOB: "orphaned"}, detach=True)
    result = home.run("reap", "orphaned")
    assert result.returncode == 0, result.stderr
    assert orphan.name in result.stdout
    assert job_containers(docker_client, "orphaned") == []

    home.write_job("alive", busybox_image, ["sleep", "600"])
    agent = home.popen("run", "alive")
    wait_for(lambda: job_containers(docker_client, "alive"), what="the live run's container")
    assert home.run("reap", "alive").returncode == 0
    assert len(job_containers(docker_client, "alive")) == 1, "reap must not touch a run its agent still holds"
    agent.send_signal(signal.SIGTERM)
    agent.communicate(timeout=60)


def test_output_split_across_chunks_arrives_as_whole_lines(home, busybox_image):
    script = "printf 'part one '; sleep 1; printf 'part two\\nnext line\\n'; printf 'caf\\303'; sleep 1; printf '\\251 end\\n'; printf 'no newline'"
    home.write_job("chunks", busybox_image, ["sh", "-c", script])
    result = home.run("run", "chunks")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["part one part two", "next line", "café end", "no newline"]
