"""The read commands through the CLI (Typer's CliRunner): what they print, piped (plain
text) and as --json, with real job files and a real history database. systemd is not
running here, so timer states are unknown: the e2e tests check them in a booted systemd."""

import json
import os
import time

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from tests.gpu_sim import FakeGpu, GiB
from tests.support.agent import AgentHome
from tests.support.records import record, run_record

UUID = "GPU-aaaaaaaa-1111-2222-3333-444444444444"
NO_SYSTEMD = not os.path.isdir("/run/systemd/system")


@pytest.fixture
def home(tmp_path):
    home = AgentHome(tmp_path / "agent")
    home.write_job("nightly", "gpuagent-test/busybox:latest", ["python", "train.py"], gpus=1, min_free_vram="20GiB")
    home.write_job("cpu", "gpuagent-test/busybox:latest", ["true"])
    now = time.time()
    record(
        home.root / "state" / "history.db",
        *(
            run_record(
                f"n{n}",
                "nightly",
                status,
                now - (n + 1) * 3600,
                gpu_uuids=(UUID,),
                peak_vram_bytes=3 * GiB,
                log_tail="loading\nRuntimeError: CUDA out of memory" if status != "succeeded" else None,
            )
            for n, status in enumerate(["failed", "cuda-oom", "oom-killed", "succeeded", "succeeded"])
        ),
        run_record("c0", "cpu", "succeeded", now - 10 * 24 * 3600, invocation_id="0123456789abcdef0123456789abcdef"),
    )
    return home


def invoke(home: AgentHome, *args: str, status: int = 0) -> str:
    result = CliRunner().invoke(app, ["--system", *args], env=home.env)
    assert result.exit_code == status, result.output
    return result.stdout


def as_json(home: AgentHome, *args: str) -> dict:
    return json.loads(invoke(home, *args, "--json"))


def broken_job(home: AgentHome) -> None:
    (home.root / "config" / "jobs" / "broken.toml").write_text('schema_version = 1\nimage = "img"\n')


def test_list(home):
    broken_job(home)
    text = invoke(home, "list")
    listing = as_json(home, "list")

    rows = {line.split()[0]: line for line in text.splitlines()[1:] if line.strip()}
    assert "daily at 02:00" in rows["nightly"] and "gpuagent-test/busybox:latest" in rows["nightly"]
    assert "missing key 'command'" in rows["broken"]
    assert [job["name"] for job in listing["jobs"]] == ["broken", "cpu", "nightly"]
    broken, cpu, nightly = listing["jobs"]
    assert broken["job"] is None and "missing key 'command'" in broken["problem"]
    assert nightly["job"]["gpus"] == 1 and nightly["job"]["min_free_vram_bytes"] == 20 * GiB
    assert nightly["job"]["schedule"]["on_calendar"] == ["*-*-* 02:00:00"]
    assert nightly["job"]["command"] == ["python", "train.py"]
    if NO_SYSTEMD:
        assert "systemd is not running" in listing["systemd_error"] and nightly["enabled"] is None
        assert "timer states unknown" in text


def test_status_marks_a_job_whose_last_three_runs_failed(home):
    broken_job(home)
    text = invoke(home, "status")
    report = {job["name"]: job for job in as_json(home, "status")["jobs"]}

    assert "\x1b" not in text and "─" not in text, "piped: plain text"
    rows = {line.split()[0]: line for line in text.splitlines()[1:] if line.strip()}
    assert "failed last 3" in rows["nightly"] and "2/5" in rows["nightly"]
    assert "failed last 3" not in rows["cpu"] and "1/1" in rows["cpu"]
    assert "job file invalid" in rows["broken"]
    nightly = report["nightly"]
    assert (nightly["failing"], nightly["recent_finished"], nightly["recent_succeeded"]) == (True, 5, 2)
    assert nightly["success_rate"] == pytest.approx(0.4)
    assert nightly["last_run"]["run_id"] == "n0" and nightly["last_run"]["status"] == "failed"
    assert nightly["schedule"] == "daily at 02:00" and nightly["on_calendar"] == ["*-*-* 02:00:00"]
    assert report["cpu"]["failing"] is False and report["cpu"]["success_rate"] == 1.0
    assert report["broken"]["problem"] and report["broken"]["last_run"] is None


def test_status_and_list_without_jobs(tmp_path):
    home = AgentHome(tmp_path / "empty")
    assert "no jobs yet" in invoke(home, "status")
    assert "no jobs yet" in invoke(home, "list")
    assert as_json(home, "status")["jobs"] == []


def test_history_newest_first_with_filters(home):
    def run_ids(*args: str) -> list[str]:
        return [run["run_id"] for run in as_json(home, "history", *args)["runs"]]

    assert run_ids() == ["n0", "n1", "n2", "n3", "n4", "c0"]
    assert run_ids("nightly", "--limit", "2") == ["n0", "n1"]
    assert run_ids("--status", "succeeded") == ["n3", "n4", "c0"]
    assert run_ids("nightly", "--status", "succeeded", "-n", "1") == ["n3"]
    assert run_ids("--since", "2h30m") == ["n0", "n1"]
    assert run_ids("cpu", "--since", "1d") == []
    lines = invoke(home, "history", "nightly", "-n", "3").splitlines()
    assert lines[0].split() == ["run", "job", "started", "took", "status", "exit", "gpu", "peak", "vram", "reason"]
    assert [line.split()[0] for line in lines[1:]] == ["n0", "n1", "n2"]
    assert "cuda-oom" in lines[2] and "GPU-aaaaaaaa" in lines[2] and "3GiB" in lines[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "exploded"], "--status: unknown status 'exploded'"),
        (["--since", "soonish"], "--since: cannot read 'soonish'"),
        (["Bad/Name"], "invalid job name"),
        (["--run", "ffffffffffff"], "no run 'ffffffffffff' in history"),
    ],
)
def test_history_refuses_what_it_cannot_read(home, args, message):
    result = CliRunner().invoke(app, ["--system", "history", *args], env=home.env)
    assert result.exit_code == 2
    assert message in result.stderr


def test_history_of_one_run_in_full_with_its_log_tail(home):
    text = invoke(home, "history", "--run", "n1")
    run = as_json(home, "history", "--run", "n1")["run"]

    assert "cuda-oom" in text and UUID in text and "RuntimeError: CUDA out of memory" in text.split("log tail:")[1]
    assert run["log_tail"] == "loading\nRuntimeError: CUDA out of memory" and run["gpu_uuids"] == [UUID]
    assert "gpuagent logs cpu --run c0" in invoke(home, "history", "--run", "c0")


def test_a_history_that_was_never_written_is_empty_and_stays_unwritten(tmp_path):
    home = AgentHome(tmp_path / "fresh")
    assert "no runs recorded yet" in invoke(home, "history")
    assert as_json(home, "history", "--since", "today") == {"runs": []}
    assert not (home.root / "state" / "history.db").exists()


def test_gpus_from_nvml(home, fake_gpus):
    fake_gpus.update(
        [
            FakeGpu(UUID, used=60 * GiB, util=88, temp=71, power=455_000, processes=[(4_000_000, 59 * GiB)]),
            FakeGpu("GPU-bbbbbbbb-0000-0000-0000-000000000000", state="lost"),
        ]
    )
    text = invoke(home, "gpus")
    report = as_json(home, "gpus")

    assert "NVIDIA driver 550.54.15" in text and "60GiB / 80GiB" in text and "88%" in text and "71°C" in text and "455 W" in text
    assert "unavailable: GPU is lost" in text
    assert text.splitlines()[-1].split() == ["0", "4000000", "other", "59GiB"]
    first, lost = report["gpus"]
    assert (first["memory_used_bytes"], first["temperature_c"], first["power_watts"]) == (60 * GiB, 71, 455.0)
    assert first["processes"] == [{"pid": 4_000_000, "used_bytes": 59 * GiB, "container_id": None, "job": None}]
    assert lost["error"] == "GPU is lost" and lost["uuid"] is None


def test_gpus_without_a_driver_says_so_and_succeeds(home, fake_gpus):
    fake_gpus.state_file.unlink()
    assert "NVIDIA driver not usable" in invoke(home, "gpus")
    report = as_json(home, "gpus")
    assert report["gpus"] == [] and "NVIDIA driver" in report["nvml_error"]


def test_logs_of_a_run_started_by_hand_say_where_its_output_went(home):
    result = CliRunner().invoke(app, ["--system", "logs", "nightly", "--run", "n0"], env=home.env)
    assert result.exit_code == 2 and "started by hand" in result.stderr
    result = CliRunner().invoke(app, ["--system", "logs", "cpu", "--run", "n0"], env=home.env)
    assert result.exit_code == 2 and "no run 'n0' of job 'cpu'" in result.stderr


def test_job_names_complete_in_the_mode_on_the_line(home):
    def complete(line: str) -> list[str]:
        env = {**home.env, "_GPUAGENT_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(line.split()) - (not line.endswith(" ")))}
        result = CliRunner().invoke(app, [], env=env, prog_name="gpuagent")
        return result.stdout.split()

    assert complete("gpuagent --system show ") == ["cpu", "nightly"]
    assert complete("gpuagent --system logs ni") == ["nightly"]
    assert complete("gpuagent --system history c") == ["cpu"]
    assert complete("gpuagent --system trigger x") == []
