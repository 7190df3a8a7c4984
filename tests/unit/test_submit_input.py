"""`gpuagent submit`'s bad input, through the CLI: every option validated as `add`
validates it, a sweep, a dedupe key, a --like job; each refused with exit 2, one line
(and its hint) on stderr, no traceback, and nothing written: no queue.db, no unit file.
Also `cancel` of a run that is not queued, and submit's help listing every setting row
it takes."""

import os
import re
from pathlib import Path

import pytest
import typer
from typer.core import TyperOption
from typer.testing import CliRunner

from gpuagent.cli.app import app
from gpuagent.jobs.settings import BY_FIELD, SETTINGS
from gpuagent.queue.entry import SUBMIT_FIELDS
from gpuagent.queue.sweeps import MAX_SWEEP_RUNS
from tests.support.agent import AgentHome

IMAGE = ["--image", "gpuagent-test/busybox:latest"]


def submit(*args: str) -> list[str]:
    return ["submit", *args]


def cases(data: str) -> dict[str, tuple[list[str], str]]:
    """Bad submits, by what is wrong: the arguments, and what the error line must say.
    `data`: a directory that exists."""
    cores = os.cpu_count() or 1
    many = ",".join(map(str, range(MAX_SWEEP_RUNS + 1)))
    twenty = ",".join(map(str, range(20)))
    return {
        # the settings table's rows, as `add` refuses them
        "missing --image": (submit("--", "true"), "--image is required"),
        "bad image": (submit("--image", "Upper/Case", "--", "true"), "--image: 'Upper/Case'"),
        "missing command": (submit(*IMAGE), "command is required"),
        "NUL in the command": (submit(*IMAGE, "--", "echo", "a\0b"), "command: a word holds a NUL"),
        "gpus -1": (submit(*IMAGE, "--gpus", "-1", "--", "true"), "--gpus must be 0 to 64, got -1"),
        "gpus 65": (submit(*IMAGE, "--gpus", "65", "--", "true"), "--gpus must be 0 to 64, got 65"),
        "gpu id bad": (submit(*IMAGE, "--gpu", "bad", "--", "true"), "--gpu: 'bad'"),
        "more gpus than named": (
            submit(*IMAGE, "--gpus", "2", "--gpu", "0", "--", "true"),
            "--gpus 2 asks for more GPUs than the 1 named with --gpu",
        ),
        "min free vram 0": (submit(*IMAGE, "--gpus", "1", "--min-free-vram", "0", "--", "true"), "--min-free-vram: size must be greater than zero"),
        "min free vram unreadable": (submit(*IMAGE, "--gpus", "1", "--min-free-vram", "lots", "--", "true"), "--min-free-vram: cannot read size"),
        "min free vram auto without a gpu": (
            submit(*IMAGE, "--gpus", "0", "--min-free-vram", "auto", "--", "true"),
            "--min-free-vram needs a GPU job",
        ),
        "memory 1x": (submit(*IMAGE, "--memory", "1x", "--", "true"), "--memory: cannot read size '1x'"),
        "memory below docker's minimum": (submit(*IMAGE, "--memory", "4m", "--", "true"), "--memory: '4m'"),
        "cpus 0": (submit(*IMAGE, "--cpus", "0", "--", "true"), "--cpus must be"),
        "cpus over the host's": (submit(*IMAGE, "--cpus", str(cores + 1), "--", "true"), f"--cpus {cores + 1} is more than this host's"),
        "shm size unreadable": (submit(*IMAGE, "--shm-size", "8 parsecs", "--", "true"), "--shm-size: cannot read size"),
        "max gpu util 101": (submit(*IMAGE, "--gpus", "1", "--max-gpu-util", "101", "--", "true"), "--max-gpu-util must be 0 to 100, got 101"),
        "priority 101": (submit(*IMAGE, "--priority", "101", "--", "true"), "--priority must be 0 to 100, got 101"),
        "priority -1": (submit(*IMAGE, "--priority", "-1", "--", "true"), "--priority must be 0 to 100, got -1"),
        "relative volume": (submit(*IMAGE, "-v", "relative:path", "--", "true"), "--volume relative:path: host path 'relative' is relative"),
        "missing volume": (submit(*IMAGE, "--volume", f"{data}/nope:/data", "--", "true"), f"{data}/nope does not exist"),
        # refused as the docker socket, or as missing where this host has no docker
        "docker socket volume": (submit(*IMAGE, "-v", "/var/run/docker.sock:/var/run/docker.sock", "--", "true"), "-v /var/run/docker.sock:"),
        "env without =": (submit(*IMAGE, "-e", "NOEQUALS", "--", "true"), "--env: 'NOEQUALS' is not KEY=VALUE"),
        "env key not an identifier": (submit(*IMAGE, "--env", "1BAD=x", "--", "true"), "--env: '1BAD'"),
        "missing env file": (submit(*IMAGE, "--env-file", f"{data}/missing.env", "--", "true"), "--env-file: cannot read"),
        "relative workdir": (submit(*IMAGE, "--workdir", "relative", "--", "true"), "--workdir: 'relative' is relative"),
        "user with a space": (submit(*IMAGE, "--user", "a b", "--", "true"), "--user: cannot read 'a b'"),
        "timeout forever": (submit(*IMAGE, "--timeout", "forever", "--", "true"), "--timeout: cannot read duration 'forever'"),
        "stop grace 10h": (submit(*IMAGE, "--stop-grace", "10h", "--", "true"), "--stop-grace: '10h' is longer than"),
        "retries 99": (submit(*IMAGE, "--retries", "99", "--", "true"), "--retries must be 0 to 10, got 99"),
        "retry delay 2d": (submit(*IMAGE, "--retries", "1", "--retry-delay", "2d", "--", "true"), "--retry-delay: '2d' is longer than"),
        # submit's own options
        "bad name": (submit("--name", "Bad Name", *IMAGE, "--", "true"), "invalid --name 'Bad Name'"),
        "empty sweep": (submit(*IMAGE, "--sweep", "", "--", "true"), "--sweep '': not NAME=V1,V2"),
        "sweep with no values": (submit(*IMAGE, "--sweep", "lr=", "--", "true"), "--sweep lr: '' is not a value"),
        "huge sweep": (
            submit(*IMAGE, "--sweep", f"seed={many}", "--", "true"),
            f"--sweep: {MAX_SWEEP_RUNS + 1} combinations, more than the {MAX_SWEEP_RUNS} one submit may queue",
        ),
        "huge sweep in product": (submit(*IMAGE, "--sweep", f"a={twenty}", "--sweep", f"b={twenty}", "--", "true"), "--sweep: 400 combinations"),
        "empty dedupe": (submit(*IMAGE, "--dedupe", "", "--", "true"), "--dedupe: '' is not a key"),
        "dedupe with a control character": (submit(*IMAGE, "--dedupe", "train\x07v3", "--", "true"), "--dedupe: 'train\\x07v3' is not a key"),
        "dedupe with a newline": (submit(*IMAGE, "--dedupe", "train\nv3", "--", "true"), "--dedupe: 'train\\nv3' is not a key"),
        "dedupe too long": (submit(*IMAGE, "--dedupe", "k" * 201, "--", "true"), "is not a key"),
        "like a job that does not exist": (submit("--like", "nosuch", "--", "true"), "no job named 'nosuch'"),
        "like a broken job file": (submit("--like", "broken"), "broken.toml: not valid TOML"),
        "like a job file missing its image": (submit("--like", "imageless"), "imageless.toml: missing key 'image'"),
        "like a good job, a bad override": (submit("--like", "base", "--memory", "1x"), "--memory: cannot read size '1x'"),
        "like a good job, a bad volume added": (submit("--like", "base", "-v", "relative:path"), "--volume relative:path"),
        "notify not a URL": (submit(*IMAGE, "--notify", "notaurl", "--", "true"), "--notify: not a notification URL"),
        "notify-on an unknown event": (
            submit(*IMAGE, "--notify", "json://localhost:9/x", "--notify-on", "sometimes", "--", "true"),
            "--notify-on: unknown event 'sometimes'",
        ),
        "notify-on without notify": (submit(*IMAGE, "--notify-on", "failure", "--", "true"), "--notify-on: it says which events"),
        "ping not http": (submit(*IMAGE, "--ping", "ftp://example.org/x", "--", "true"), "--ping: a ping URL must be http:// or https://"),
        # every run of a sweep is checked before any is queued
        "sweep over a bad option": (submit(*IMAGE, "--sweep", "lr=1,2", "--timeout", "forever", "--", "true"), "--timeout: cannot read duration"),
    }


CASE_NAMES = list(cases("/data"))


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """A scratch installation: its directories, a data directory, and three job files:
    base (good), broken (not TOML), imageless (TOML, but no image)."""
    home = AgentHome(tmp_path)
    for var, value in home.env.items():
        if var.startswith("GPUAGENT_"):
            monkeypatch.setenv(var, value)
    (tmp_path / "data").mkdir()
    home.write_job("base", "gpuagent-test/busybox:latest", ["true"], schedule={"every": "6h"}, gpus=1, memory="1g")
    jobs = tmp_path / "config" / "jobs"
    (jobs / "broken.toml").write_text("schema_version = 1\nimage = [unclosed\n")
    (jobs / "imageless.toml").write_text('schema_version = 1\ncommand = ["true"]\n[schedule]\nevery = "6h"\n')
    return tmp_path


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under `root`."""
    return {str(path.relative_to(root)): path.read_bytes() if path.is_file() else None for path in sorted(root.rglob("*"))}


def assert_refused(result, scratch: Path, before: dict[str, bytes | None], exit_code: int = 2) -> str:
    """Exit `exit_code` with one line of error (and its hints), no traceback, nothing
    written; the error line."""
    assert result.exit_code == exit_code, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("hint:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: "), result.stderr
    assert tree(scratch) == before, "something was written"
    assert not (scratch / "state" / "queue.db").exists()
    return errors[0]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_bad_submit_exits_2_with_one_line_naming_what_is_wrong_and_writes_nothing(case, scratch):
    args, says = cases(str(scratch / "data"))[case]
    before = tree(scratch)
    line = assert_refused(CliRunner().invoke(app, ["--system", *args]), scratch, before)
    assert says in line, line


def test_every_submit_option_has_a_bad_case():
    """A new option of submit (a new row of the settings table reaching it, or its own)
    needs a case above; a flag, given or not, has nothing to refuse."""
    root = typer.main.get_command(app)
    command = root.get_command(root.make_context("gpuagent", ["--help"], resilient_parsing=True), "submit")
    given = {word.split("=")[0] for args, _ in cases("/data").values() for word in args if word.startswith("-")}
    for param in command.params:
        if isinstance(param, TyperOption) and not param.is_flag:
            assert given & set(param.opts), f"no bad-input case gives {param.opts[-1]} to submit"


@pytest.mark.skipif(Path("/run/systemd/system").is_dir(), reason="with systemd running, a good submit would start systemctl: tests/systemd submits")
def test_a_good_submit_gets_as_far_as_systemd_and_writes_nothing_without_it(scratch):
    for args in (submit(*IMAGE, "--gpus", "1", "--min-free-vram", "auto", "--sweep", "lr=1,2", "--", "true"), submit("--like", "base")):
        before = tree(scratch)
        result = CliRunner().invoke(app, ["--system", *args])
        line = assert_refused(result, scratch, before, exit_code=1)
        assert line == "error: systemd is not running on this host (/run/systemd/system is missing)"


def test_like_is_a_job_name_never_a_path(scratch):
    """--like ../../outside must not read a TOML file outside the jobs directory."""
    (scratch / "outside.toml").write_text("not = [toml\n")
    before = tree(scratch)
    result = CliRunner().invoke(app, ["--system", *submit("--name", "x", "--like", "../../outside")])
    line = assert_refused(result, scratch, before)
    assert "--like" in line and "outside.toml" not in line, line


def test_cancel_of_a_run_not_in_the_queue_exits_2_with_one_line(scratch):
    for args, line in (
        (["cancel", "nosuchid"], "error: no run 'nosuchid' in the queue"),
        (["cancel", "--group", "nosuch"], "error: no run of group 'nosuch' in the queue"),
        (["cancel"], "error: name the runs to cancel"),
    ):
        before = tree(scratch)
        assert assert_refused(CliRunner().invoke(app, ["--system", *args]), scratch, before) == line


def option_listed(help_text: str, spelling: str) -> bool:
    return re.search(rf"^\s+(?:-\w, )?{re.escape(spelling)}[\s,]", help_text, re.MULTILINE) is not None


def test_submit_help_lists_an_option_for_every_row_submit_takes():
    help_text = CliRunner().invoke(app, ["submit", "--help"]).output
    for field in SUBMIT_FIELDS:
        for spelling in BY_FIELD[field].options:
            assert option_listed(help_text, spelling), f"submit --help lacks {spelling} ({field})"
    for setting in SETTINGS:
        if setting.field not in SUBMIT_FIELDS:
            for spelling in setting.options:
                assert not option_listed(help_text, spelling.split("/")[0]), f"submit --help lists {spelling}, a scheduled job's alone"
