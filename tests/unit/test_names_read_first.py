"""Every name, from any source, is read by the one name reader (core/values.py's
parse_name) before a path is made of it: each command that takes a job or notebook name,
given `../x`, `a/b`, 300 characters, nothing or a newline, exits 2 with one line, starts
no program and writes nothing; so does a name that comes from a file (the header of an
exported file that `export check` reads) or from another option (`notebook --like`)."""

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from tests.unit.test_cli_rejects_bad_input import check_args_rejected, scratch  # noqa: F401 (a fixture)

BAD_NAMES = {"parent": "../x", "slash": "a/b", "300-characters": "a" * 300, "empty": "", "newline": "x\nname", "dot-dot": ".."}
IMAGE = "pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime"

# each command that takes a name, with NAME where it goes
COMMANDS = {
    "add": ["add", "NAME", "--at", "02:00", "--image", IMAGE, "--", "true"],
    "show": ["show", "NAME"],
    "remove": ["remove", "NAME"],
    "enable": ["enable", "NAME"],
    "disable": ["disable", "NAME"],
    "trigger": ["trigger", "NAME"],
    "run": ["run", "NAME"],
    "reap": ["reap", "NAME"],
    "submit-like": ["submit", "--like", "NAME", "--", "true"],
    "submit-name": ["submit", "--name", "NAME", "--image", IMAGE, "--", "true"],
    "history": ["history", "NAME"],
    "logs": ["logs", "NAME"],
    "report": ["report", "NAME"],
    "export-slurm": ["export", "slurm", "NAME"],
    "export-kubernetes": ["export", "kubernetes", "NAME"],
    "export-several": ["export", "slurm", "ok", "NAME", "-o", "/nonexistent-dir"],
    "shell": ["shell", "NAME"],
    "notebook-start": ["notebook", "start", "NAME", "--image", IMAGE],
    "notebook-like": ["notebook", "start", "lab", "--like", "NAME"],
    "notebook-like-only": ["notebook", "start", "--like", "NAME"],
    "notebook-stop": ["notebook", "stop", "NAME"],
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_bad_name_is_one_line_exit_2_and_nothing_written(command, name, scratch):  # noqa: F811
    args = [name if word == "NAME" else word for word in command]
    check_args_rejected(args, scratch, f"{command[0]} {name!r}")
    said = CliRunner().invoke(app, ["--system", *args]).stderr
    assert "invalid" in said, said  # the reader's words, not a lookup's "no job named"


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_the_name_in_an_exported_files_header_is_read_too(name, scratch, tmp_path):  # noqa: F811
    exported = tmp_path / "exported.sbatch"
    header = "gpuagent export " + ("''" if not name else repr(name) if "\n" in name else name) + " --to slurm --runtime pyxis"
    exported.write_text(f"#!/bin/bash\n# {header}\n")
    check_args_rejected(["export", "check", str(exported)], scratch, f"check {name!r}")
    said = CliRunner().invoke(app, ["--system", "export", "check", str(exported)]).stderr
    assert "invalid job name" in said, said


def test_a_submitted_runs_notify_file_is_under_its_kind_and_nothing_else_passes(tmp_path, monkeypatch):
    """`submit --notify` keeps the run's URLs in notify/queue/NAME.toml: a `KIND/NAME`
    makes that path, and each of its parts is read as a name."""
    from gpuagent.core.errors import InvalidInput
    from gpuagent.core.paths import resolve_paths

    monkeypatch.setenv("GPUAGENT_CONFIG_DIR", str(tmp_path))
    paths = resolve_paths(user_mode=False)
    assert paths.notify_file("queue/sweep-1") == paths.notify_dir / "queue" / "sweep-1.toml"
    assert paths.notify_file("nightly") == paths.notify_dir / "nightly.toml"
    for bad in ("queue/../x", "../queue/x", "queue/a/b", "/x", "queue/", "queue/" + "a" * 300):
        with pytest.raises(InvalidInput):
            paths.notify_file(bad)
