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
    check_args_rejected(cases(str(scratch / "data"), str(scratch / "data"))[case], scratch, case)


def check_args_rejected(args: list[str], scratch, case: str) -> None:
    result = CliRunner().invoke(app, ["--system", *args])

    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert error_lines, "no error message"
    assert len([line for line in error_lines if not line.startswith("hint:")]) == 1, result.stderr
    for var in ("config", "unit", "state", "runtime"):
        assert list((scratch / var).iterdir()) == [], f"{case}: something was written under {var}"


# --- every duration and count, out of its bounds -------------------------------------
# Each option or key that takes a duration, a count or a moment, with a value past what
# it can mean: refused where it enters, before any job is looked up or program started
# (this tier starts none), never a traceback later. BIG is past every 64-bit integer.
BIG = str(10**30)
SUBMIT = ["submit", "--image", "img"]
EVERY = ["--every", "6h", "--image", "img"]  # a schedule systemd-analyze need not read: this tier starts no program
NOTEBOOK = ["notebook", "start", "--image", "img"]
BOUNDS_CASES = {
    # --since, in each command that takes it: too long ago, before 1970, still to come
    "history --since too long ago": ["history", "--since", "99999999d"],
    "history --since weeks past any datetime": ["history", "--since", "999999999999w"],
    "history --since year 1": ["history", "--since", "0001-01-01"],
    "history --since year 9999 in a zone": ["history", "--since", "9999-12-31T23:59:59-05:00"],
    "history --since year 10000": ["history", "--since", "10000-01-01"],
    "history --since negative": ["history", "--since", "-5d"],
    "history --since tomorrow": ["history", "--since", "2999-01-01"],
    "history --group --since": ["history", "--group", "g1", "--since", "99999999d"],
    "history --metric --since": ["history", "nightly", "--metric", "loss", "--since", "0001-01-01"],
    "logs --since too long ago": ["logs", "nightly", "--since", "99999999d"],
    "logs --since year 1": ["logs", "nightly", "--since", "0001-01-01"],
    "report --since too long ago": ["report", "--since", "99999999d", "-o", "report.html"],
    "report --since year 9999": ["report", "--since", "9999-12-31", "-o", "report.html"],
    # -n: no more than a history or a journal holds, and at least one
    "history -n beyond 64 bits": ["history", "-n", BIG],
    "history -n negative": ["history", "-n", "-1"],
    "history -n 0": ["history", "-n", "0"],
    "history --group -n beyond 64 bits": ["history", "--group", "g1", "-n", BIG],
    "logs -n beyond 64 bits": ["logs", "nightly", "-n", BIG],
    "logs -n negative": ["logs", "nightly", "-n", "-1"],
    "logs -n 0": ["logs", "nightly", "-n", "0"],
    # a notebook's own durations and port
    "notebook --max-time beyond any clock": [*NOTEBOOK, "--max-time", "999999999999w"],
    "notebook --max-time over a month": [*NOTEBOOK, "--max-time", "32d"],
    "notebook --idle-timeout beyond any clock": [*NOTEBOOK, "--idle-timeout", "999999999999d"],
    "notebook --port beyond 64 bits": [*NOTEBOOK, "--port", BIG],
    "notebook --port negative": [*NOTEBOOK, "--port", "-1"],
    "shell --vram-wait over a week": ["shell", "nightly", "--vram-wait", "999999999999d"],
    # submit's settings, each a row of the settings table
    "submit --timeout beyond any clock": [*SUBMIT, "--timeout", "999999999999w", "--", "true"],
    "submit --stop-grace beyond systemd's": [*SUBMIT, "--stop-grace", "999999999999s", "--", "true"],
    "submit --priority beyond 64 bits": [*SUBMIT, "--priority", BIG, "--", "true"],
    "submit --priority negative": [*SUBMIT, "--priority", "-1", "--", "true"],
    "submit --gpus beyond 64 bits": [*SUBMIT, "--gpus", BIG, "--", "true"],
    "submit --max-gpu-util over 100": [*SUBMIT, "--gpus", "1", "--max-gpu-util", BIG, "--", "true"],
    "submit --memory beyond 64 bits": [*SUBMIT, "--memory", "999999999999999T", "--", "true"],
    # add's: the schedule's and each setting's
    "add --every beyond any clock": add("job", "--every", "999999999999w", "--image", "img", "--", "true"),
    "add --every over a month": add("job", "--every", "32d", "--image", "img", "--", "true"),
    "add --random-delay beyond any clock": add("job", *GOOD, "--random-delay", "999999999999w", "--", "true"),
    "add --retries beyond 64 bits": add("job", *GOOD, "--retries", BIG, "--", "true"),
    "add --retries negative": add("job", *GOOD, "--retries", "-1", "--", "true"),
    "add --retry-delay beyond any clock": add("job", *GOOD, "--retries", "1", "--retry-delay", "999999999999w", "--", "true"),
    "add --stop-grace over systemd's": add("job", *GOOD, "--stop-grace", "241s", "--", "true"),
    "add --gpus negative": add("job", *GOOD, "--gpus", "-1", "--", "true"),
    "add --shm-size beyond 64 bits": add("job", *GOOD, "--shm-size", "999999999999999T", "--", "true"),
    # top's refresh
    "top --interval beyond any clock": ["top", "--interval", "999999999999w"],
    "top --interval over an hour": ["top", "--interval", "2h"],
}


@pytest.mark.parametrize("case", BOUNDS_CASES)
def test_every_duration_count_and_moment_is_bounded_where_it_enters(case, scratch, monkeypatch):
    monkeypatch.chdir(scratch / "data")
    check_args_rejected(BOUNDS_CASES[case], scratch, case)


# --- notification URLs whose address can never work ------------------------------------
WHERE_IT_SENDS = {
    "port beyond 65535": "json://hooks.example.com:99999/gpuagent",
    "port not a number": "json://hooks.example.com:http/gpuagent",
    "port 0": "json://hooks.example.com:0/gpuagent",
    "unclosed IPv6 bracket": "json://[::1/gpuagent",
    "no host before the port": "json://:8080/gpuagent",
    "ntfy on a port beyond 65535": "ntfy://ntfy.example.com:70000/topic",
}
PINGS = {
    "ping port beyond 65535": "https://hc-ping.com:65536/uuid",
    "ping port not a number": "https://hc-ping.com:https/uuid",
    "ping unclosed IPv6 bracket": "http://[fe80::1/uuid",
    "ping with no host": "https://:443/uuid",
}
URL_CASES = {
    **{f"add --notify: {case}": add("job", *EVERY, "--notify", url, "--", "true") for case, url in WHERE_IT_SENDS.items()},
    **{f"submit --notify: {case}": [*SUBMIT, "--notify", url, "--", "true"] for case, url in WHERE_IT_SENDS.items()},
    **{f"add --ping: {case}": add("job", *EVERY, "--ping", url, "--", "true") for case, url in PINGS.items()},
    **{f"submit --ping: {case}": [*SUBMIT, "--ping", url, "--", "true"] for case, url in PINGS.items()},
}


@pytest.mark.parametrize("case", URL_CASES)
def test_a_notification_url_whose_address_can_never_work_is_refused_without_showing_it(case, scratch):
    """Refused before anything is written, as the one line names the option, never the
    URL (it holds tokens)."""
    check_args_rejected(URL_CASES[case], scratch, case)
    result = CliRunner().invoke(app, ["--system", *URL_CASES[case]])
    url = next(arg for arg in URL_CASES[case] if "://" in arg)
    assert url not in result.output


# --- what Click itself refuses --------------------------------------------------------
# A value of the wrong type, an unknown option or command, an option without its value:
# Click's own three lines (Usage, Try, Error) become gpuagent's one, with the help to read.
CLICK_CASES = {
    "count not a number": (["history", "-n", "abc"], "gpuagent history --help"),
    "gpus not a number": (add("job", *GOOD, "--gpus", "abc", "--", "true"), "gpuagent add --help"),
    "option without its value": (["history", "--since"], "gpuagent history --help"),
    "unknown option of a command": (["status", "--colour"], "gpuagent status --help"),
    "unknown option of a subcommand": (["export", "slurm", "--bogus"], "gpuagent export slurm --help"),
    "unknown command": (["histroy"], "gpuagent --help"),
    "unknown global option": (["--bogus", "status"], "gpuagent --help"),
}


@pytest.mark.parametrize("case", CLICK_CASES)
def test_what_click_refuses_is_one_error_line_with_the_help_to_read(case, scratch):
    args, help_command = CLICK_CASES[case]
    check_args_rejected(args, scratch, case)
    stderr = CliRunner().invoke(app, ["--system", *args], prog_name="gpuagent").stderr
    assert stderr.startswith("error: "), stderr
    assert f"hint: {help_command}" in stderr
    assert "Usage:" not in stderr and "Try '" not in stderr
