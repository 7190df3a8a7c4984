"""A circle of --after jobs written by hand into the job files (`add` and `sync` refuse
one): `show`, `status` and `doctor` name it and say that its followers are never started."""

import pytest

from tests.support.agent import AgentHome
from tests.unit.test_chained_job_files import IMAGE, cli

NAMED = "evaluate -> train -> evaluate: --after circle; its followers are never started; fix the job files"


@pytest.fixture
def home(tmp_path):
    home = AgentHome(tmp_path / "agent")
    home.write_job("train", IMAGE, ["true"], after="evaluate")
    home.write_job("evaluate", IMAGE, ["true"], after="train")
    home.write_job("nightly", IMAGE, ["true"])
    return home


@pytest.mark.parametrize("job", ["train", "evaluate"])
def test_show_names_the_circle_a_job_lies_on(home, job):
    result = cli(home, "show", job)
    assert result.exit_code == 0, result.output
    assert NAMED in result.stdout


def test_show_of_a_job_on_no_circle_names_none(home):
    assert "circle" not in cli(home, "show", "nightly").stdout


def test_status_names_the_circle_once(home):
    result = cli(home, "status")
    assert result.exit_code == 0, result.output
    assert result.stdout.count(NAMED) == 1


def test_doctor_names_the_circle_as_an_error_with_the_files_to_fix(home):
    result = cli(home, "doctor")
    assert result.exit_code != 0
    [line] = [line for line in result.stdout.splitlines() if "--after circle" in line]
    assert NAMED in line
    assert str(home.root / "config" / "jobs" / "evaluate.toml") in result.stdout
