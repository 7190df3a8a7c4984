"""Chains of --after jobs as `add`, `remove`, `sync` and the views see them: a chain that
cannot work is refused with nothing written; a job others follow is not removed."""

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from tests.support.agent import AgentHome

IMAGE = "gpuagent-test/busybox:latest"


@pytest.fixture
def home(tmp_path):
    home = AgentHome(tmp_path / "agent")
    home.write_job("train", IMAGE, ["true"])
    home.write_job("evaluate", IMAGE, ["true"], after="train")
    return home


def cli(home: AgentHome, *args: str):
    return CliRunner().invoke(app, ["--system", *args], env=home.env)


def job_files(home: AgentHome) -> dict[str, str]:
    return {path.name: path.read_text() for path in (home.root / "config" / "jobs").iterdir()}


def test_a_circle_through_existing_jobs_is_refused_and_nothing_written(home):
    before = job_files(home)
    result = cli(home, "add", "train", "--replace", "--after", "evaluate", "--image", IMAGE, "--", "true")
    assert result.exit_code == 2
    assert "circle: evaluate -> train -> evaluate" in result.stderr
    assert job_files(home) == before


def test_a_job_others_follow_is_not_removed(home):
    result = cli(home, "remove", "train")
    assert result.exit_code == 2
    assert "train is followed by evaluate" in result.stderr
    assert "train.toml" in job_files(home)


def test_an_after_only_job_has_no_timer_file(home):
    result = cli(home, "add", "promote", "--after", "evaluate", "--image", IMAGE, "--dry-run", "--", "true")
    assert result.exit_code == 0, result.output
    assert "gpuagent@promote.timer" not in result.stdout
    assert 'after = "evaluate"' in result.stdout
