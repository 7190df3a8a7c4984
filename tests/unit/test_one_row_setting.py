"""The settings table drives the job: a made-up setting written as ONE row of
jobs/settings.py (and the typed field that tests/unit/test_jobs.py then asks of the
written-out Job) reaches `add --help`, the job file both ways, `show --json`, the job file
reference, a notebook's and a submit's options and docker's create call, with no other
edit.

The test edits a copy of the package as a developer would edit the tree, then imports that
copy in place of the package for the length of the test.
"""

import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

PACKAGE = Path(__file__).resolve().parents[2] / "gpuagent"

ROW = """\
    Setting(
        field="pids_limit",
        section="resources",
        key="pids_limit",
        kind=INTEGER,
        options=("--pids-limit",),
        help="Most processes the container may run at once (a fork bomb's end).",
        read=_with(v.parse_count, 1, 1_000_000),
        default=None,
        metavar="N",
        docker=lambda limit: {} if limit is None else {"pids_limit": limit},
        session=FROM_JOB,
    ),
"""
JOB_FIELD = "    pids_limit: int | None\n"
TABLE_END = "\n)\n\nBY_FIELD = "
LAST_JOB_FIELD = "    retry_delay: int  # seconds\n"


def _ours(name: str) -> bool:
    return name == "gpuagent" or name.startswith(("gpuagent.", "tests.support."))


@pytest.fixture
def edited(tmp_path, monkeypatch):
    """The package with ROW at the end of the settings table and JOB_FIELD at the end of
    Job, imported as `gpuagent` (and tests.support made afresh over it)."""
    copy = tmp_path / "gpuagent"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    settings = copy / "jobs" / "settings.py"
    text = settings.read_text()
    assert text.count(TABLE_END) == 1, "the settings table's end moved: update TABLE_END"
    settings.write_text(text.replace(TABLE_END, "\n" + ROW.rstrip("\n") + TABLE_END))
    job = copy / "jobs" / "job.py"
    text = job.read_text()
    assert text.count(LAST_JOB_FIELD) == 1, "Job's last field moved: update LAST_JOB_FIELD"
    job.write_text(text.replace(LAST_JOB_FIELD, LAST_JOB_FIELD + JOB_FIELD))

    saved = {name: module for name, module in sys.modules.items() if _ours(name)}
    for name in saved:
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import gpuagent

        assert Path(gpuagent.__file__).parent == copy
        yield
    finally:
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def job_with_limit(**options):
    from gpuagent.jobs.job import job_from_options
    from gpuagent.jobs.schedule import parse_schedule

    given = dict(image="img:1", command=["python", "train.py"], **options)
    return job_from_options("nightly", parse_schedule(at="02:00"), given)


def test_the_row_reaches_add_help(edited):
    from gpuagent.cli.app import app

    result = CliRunner().invoke(app, ["add", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "--pids-limit N" in result.output and "fork bomb" in result.output


def test_the_row_reaches_the_job_file_both_ways(edited, tmp_path):
    from gpuagent.core.errors import InvalidInput
    from gpuagent.jobs.jobfile import job_from_toml, job_to_toml

    job = job_with_limit(pids_limit=512)
    text = job_to_toml(job)
    assert "\npids_limit = 512\n" in text.split("[resources]")[1]
    assert job_from_toml(text, tmp_path / "nightly.toml").pids_limit == 512
    with pytest.raises(InvalidInput, match="resources.pids_limit must be an? integer"):
        job_from_toml(text.replace("pids_limit = 512", 'pids_limit = "many"'), tmp_path / "nightly.toml")
    with pytest.raises(InvalidInput, match="pids_limit"):
        job_from_toml(text.replace("pids_limit = 512", "pids_limit = 0"), tmp_path / "nightly.toml")
    assert job_with_limit().pids_limit is None and "pids_limit" not in job_to_toml(job_with_limit())


def test_the_row_reaches_show_json_and_its_schema(edited):
    from gpuagent.views.jsondoc import job_settings
    from tests.support.json_schema import JOB, check

    document = job_settings(job_with_limit(pids_limit=64))
    assert document["pids_limit"] == 64
    check(document, JOB)


def test_the_row_reaches_the_job_file_reference(edited):
    from tests.support.docs_reference import JOB_FILE_PAGE
    from tests.support.settings_reference import reference

    made = reference()
    assert "| `resources.pids_limit` | `--pids-limit` | integer |" in made
    assert made not in JOB_FILE_PAGE.read_text(), "the committed page lacks the row: the drift test would ask for it"


def test_the_row_reaches_a_notebooks_options_and_docker_create(edited):
    from gpuagent.cli.session_commands import start_command
    from gpuagent.host.dockerd import container_spec
    from gpuagent.jobs.job import given_options, options_over
    from gpuagent.sessions.spec import SESSION_FIELDS, file_form, session_job

    assert "pids_limit" in SESSION_FIELDS
    assert "--pids-limit" in {option for parameter in start_command.params for option in parameter.opts}

    like = job_with_limit(pids_limit=512)
    assert file_form(like)["pids_limit"] == 512, "a notebook --like the job takes its value"
    for given, expected in (({}, 512), ({"pids_limit": 64}, 64)):
        session = session_job("lab", options_over(file_form(like), given_options(given)), command=("jupyter", "lab"), timeout=None)
        create = container_spec(session, "r1", (), image_user="").create_arguments()
        assert create["pids_limit"] == expected

    create = container_spec(job_with_limit(pids_limit=256), "r2", (), image_user="").create_arguments()
    assert create["pids_limit"] == 256
    assert "pids_limit" not in container_spec(job_with_limit(), "r3", (), image_user="").create_arguments()


def test_the_row_reaches_submit_and_a_queued_runs_job(edited):
    from gpuagent.cli.queue_commands import submit_command
    from gpuagent.host.dockerd import container_spec
    from gpuagent.jobs.job import given_options, options_over
    from gpuagent.queue.entry import SUBMIT_FIELDS, entry_job, submit_form

    assert "pids_limit" in SUBMIT_FIELDS
    assert "--pids-limit" in {option for parameter in submit_command.params for option in parameter.opts}
    like = job_with_limit(pids_limit=512)
    assert submit_form(like)["pids_limit"] == 512, "a submit --like the job takes its value"
    for given, expected in (({}, 512), ({"pids_limit": 64}, 64)):
        queued = entry_job("lr", options_over(submit_form(like), given_options(given)))
        assert container_spec(queued, "r1", (), image_user="").create_arguments()["pids_limit"] == expected
