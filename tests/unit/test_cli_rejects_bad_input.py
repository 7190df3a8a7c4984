"""Every bad input: a one-line error saying what to fix, exit status 2, nothing written."""

import os

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app

GOOD = ["--at", "02:00", "--image", "pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime"]


def add(*args: str) -> list[str]:
    return ["add", *args]


def cases(tmp_data: str, env_dir: str) -> dict[str, list[str]]:
    cores = os.cpu_count() or 1
    return {
        "upper-case name": add("Nightly", *GOOD, "--", "true"),
        "name starting with dash-like": add("_x", *GOOD, "--", "true"),
        "name too long": add("a" * 64, *GOOD, "--", "true"),
        "name with slash": add("a/b", *GOOD, "--", "true"),
        "hour 25": add("job", "--at", "25:00", "--image", "img", "--", "true"),
        "minute 60": add("job", "--at", "12:60", "--image", "img", "--", "true"),
        "never elapsing calendar": add("job", "--on", "Feb 30", "--image", "img", "--", "true"),
        "garbage cron": add("job", "--cron", "every night", "--image", "img", "--", "true"),
        "cron out of range": add("job", "--cron", "61 2 * * *", "--image", "img", "--", "true"),
        "no schedule": add("job", "--image", "img", "--", "true"),
        "two schedules": add("job", "--at", "02:00", "--every", "6h", "--image", "img", "--", "true"),
        "zero memory": add("job", *GOOD, "--memory", "0", "--", "true"),
        "negative memory": add("job", *GOOD, "--memory", "-1g", "--", "true"),
        "unparsable memory": add("job", *GOOD, "--memory", "lots", "--", "true"),
        "zero vram": add("job", *GOOD, "--gpus", "1", "--min-free-vram", "0GiB", "--", "true"),
        "vram without gpu": add("job", *GOOD, "--min-free-vram", "20GiB", "--", "true"),
        "bad shm size": add("job", *GOOD, "--shm-size", "8 parsecs", "--", "true"),
        "zero timeout": add("job", *GOOD, "--timeout", "0", "--", "true"),
        "unparsable timeout": add("job", *GOOD, "--timeout", "soon", "--", "true"),
        "negative random delay": add("job", *GOOD, "--random-delay", "-5m", "--", "true"),
        "too many cpus": add("job", *GOOD, "--cpus", str(cores + 1), "--", "true"),
        "zero cpus": add("job", *GOOD, "--cpus", "0", "--", "true"),
        "relative volume": add("job", *GOOD, "-v", "data:/data", "--", "true"),
        "missing volume": add("job", *GOOD, "-v", f"{tmp_data}/nope:/data", "--", "true"),
        "bad volume mode": add("job", *GOOD, "-v", f"{tmp_data}:/data:rx", "--", "true"),
        "relative container path": add("job", *GOOD, "-v", f"{tmp_data}:data", "--", "true"),
        "docker socket volume": add("job", *GOOD, "-v", "/var/run/docker.sock:/var/run/docker.sock", "--", "true"),
        "env key not identifier": add("job", *GOOD, "-e", "1BAD=x", "--", "true"),
        "env without =": add("job", *GOOD, "-e", "NOVALUE", "--", "true"),
        "env value newline": add("job", *GOOD, "-e", "KEY=a\nb", "--", "true"),
        "unreadable env file": add("job", *GOOD, "--env-file", env_dir, "--", "true"),
        "missing env file": add("job", *GOOD, "--env-file", f"{env_dir}/missing.env", "--", "true"),
        "bad image": add("job", "--at", "02:00", "--image", "Upper/Case:tag", "--", "true"),
        "image with two tags": add("job", "--at", "02:00", "--image", "img:a:b", "--", "true"),
        "missing command": add("job", *GOOD),
        "relative workdir": add("job", *GOOD, "--workdir", "work", "--", "true"),
        "bad user": add("job", *GOOD, "--user", "me;rm", "--", "true"),
        "bad gpu id": add("job", *GOOD, "--gpu", "first", "--", "true"),
        "more gpus than named": add("job", *GOOD, "--gpus", "2", "--gpu", "0", "--", "true"),
        # what a hostile pass tried: text that ends in a line break, or holds one
        "name with trailing newline": add("job\n", *GOOD, "--", "true"),
        "image with trailing newline": add("job", "--at", "02:00", "--image", "img\n", "--", "true"),
        "user with trailing newline": add("job", *GOOD, "--user", "1000\n", "--", "true"),
        "gpu id with trailing newline": add("job", *GOOD, "--gpu", "0\n", "--", "true"),
        "env key with trailing newline": add("job", *GOOD, "-e", "KEY\n=x", "--", "true"),
        "memory with trailing newline": add("job", *GOOD, "--memory", "32g\n", "--", "true"),
        "timeout with trailing newline": add("job", *GOOD, "--timeout", "6h\n", "--", "true"),
        "tab in --at": add("job", "--at", "Mon\t02:00", "--image", "img", "--", "true"),
        "newline in --on": add("job", "--on", "daily\nExecStart=/bin/sh", "--image", "img", "--", "true"),
        "newline in --cron": add("job", "--cron", "0 2 * * *\n", "--image", "img", "--", "true"),
        "carriage return in --every": add("job", "--every", "6h\r", "--image", "img", "--", "true"),
        "newline in volume": add("job", *GOOD, "-v", f"{tmp_data}:/data\n", "--", "true"),
        "tab in workdir": add("job", *GOOD, "--workdir", "/work\tdir", "--", "true"),
        "newline in env file path": add("job", *GOOD, "--env-file", f"{env_dir}/x\n", "--", "true"),
        "nan cpus": add("job", *GOOD, "--cpus", "nan", "--", "true"),
        "infinite cpus": add("job", *GOOD, "--cpus", "inf", "--", "true"),
        "cpus below docker's minimum": add("job", *GOOD, "--cpus", "0.001", "--", "true"),
        "memory below docker's minimum": add("job", *GOOD, "--memory", "4m", "--", "true"),
        "memory beyond 64 bits": add("job", *GOOD, "--memory", "99999999999999T", "--", "true"),
        "uid out of range": add("job", *GOOD, "--user", "4294967295", "--", "true"),
        "gid out of range": add("job", *GOOD, "--user", "1000:99999999999", "--", "true"),
        "timeout over a year": add("job", *GOOD, "--timeout", "400d", "--", "true"),
        "huge duration": add("job", *GOOD, "--timeout", "9999999999999999999999s", "--", "true"),
        "random delay over a week": add("job", *GOOD, "--random-delay", "8d", "--", "true"),
        "vram wait over a week": add("job", *GOOD, "--gpus", "1", "--vram-wait", "8d", "--", "true"),
        "retry delay over a day": add("job", *GOOD, "--retries", "1", "--retry-delay", "2d", "--", "true"),
        "too many gpus": add("job", *GOOD, "--gpus", "65", "--", "true"),
        "gpu ids for a cpu job": add("job", *GOOD, "--gpus", "0", "--gpu", "0", "--", "true"),
        "mount over the container's root": add("job", *GOOD, "-v", f"{tmp_data}:/", "--", "true"),
        "docker socket's directory": add("job", *GOOD, "-v", "/run:/hostrun:ro", "--", "true"),
        "docker socket's other directory": add("job", *GOOD, "-v", "/var/run:/hostrun:ro", "--", "true"),
        "the host's root": add("job", *GOOD, "-v", "/:/host:ro", "--", "true"),
        "docker socket through a symlink": add("job", *GOOD, "-v", f"{tmp_data}/link-to-run:/r", "--", "true"),
        "NUL in the command": add("job", *GOOD, "--", "echo", "a\0b"),
        "unknown time zone": add("job", *GOOD, "--tz", "Mars/Olympus_Mons", "--", "true"),
        "time zone that is a path": add("job", *GOOD, "--tz", "../../etc/passwd", "--", "true"),
        "newline in time zone": add("job", *GOOD, "--tz", "UTC\nExecStart=/bin/sh", "--", "true"),
        "time zone for --every": add("job", "--every", "6h", "--tz", "Asia/Shanghai", "--image", "img", "--", "true"),
        "time zone without a schedule": add("job", "--tz", "Asia/Shanghai", "--image", "img", "--", "true"),
        "unknown CRON_TZ": add("job", "--cron", "CRON_TZ=Mars/Base 0 2 * * *", "--image", "img", "--", "true"),
        "CRON_TZ against --tz": add("job", "--cron", "CRON_TZ=Asia/Tokyo 0 2 * * *", "--tz", "Asia/Shanghai", "--image", "img", "--", "true"),
        "--on's zone against --tz": add("job", "--on", "Sun 03:00 Asia/Tokyo", "--tz", "Asia/Shanghai", "--image", "img", "--", "true"),
        "after a job that does not exist": add("evaluate", "--after", "train", "--image", "img", "--", "true"),
        "after itself": add("loop", *GOOD, "--after", "loop", "--", "true"),
        "after an invalid name": add("evaluate", "--after", "Train!", "--image", "img", "--", "true"),
    }


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    for var in ("CONFIG", "UNIT", "STATE", "RUNTIME"):
        directory = tmp_path / var.lower()
        directory.mkdir()
        monkeypatch.setenv(f"GPUAGENT_{var}_DIR", str(directory))
    data = tmp_path / "data"
    data.mkdir()
    (data / "link-to-run").symlink_to("/run")
    return tmp_path


# The cases only systemd's calendar parser can judge, or that it judges first: tests/tools
# runs them (systemd-analyze), this fast tier the rest.
CALENDAR_CASES = ["never elapsing calendar", "after itself"]
CASE_NAMES = [case for case in cases("/d", "/e") if case not in CALENDAR_CASES]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_is_rejected_with_one_line_and_writes_nothing(case, scratch):
    check_rejected(case, scratch)


def check_rejected(case: str, scratch) -> None:
    """Exit 2 with one line (and its hints) on stderr, and nothing written."""
    args = cases(str(scratch / "data"), str(scratch / "data"))[case]
    result = CliRunner().invoke(app, ["--system", *args])

    assert result.exit_code == 2, result.output
    error_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert error_lines, "no error message"
    assert len([line for line in error_lines if not line.startswith("hint:")]) == 1, result.stderr
    for var in ("config", "unit", "state", "runtime"):
        assert list((scratch / var).iterdir()) == [], f"{case}: something was written under {var}"
