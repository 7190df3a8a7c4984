"""Sessions (sessions/spec.py) and notebooks (sessions/jupyterlab.py): the names a session's
runs have in history, the Job a session runs, and what JupyterLab is told. Pure code."""

import json

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.jobs.job import given_options, job_from_options, options_over
from gpuagent.jobs.schedule import NO_TIMER, parse_schedule
from gpuagent.jobs.settings import BY_FIELD, FROM_JOB, SETTINGS
from gpuagent.runs.record import RunKind, Status, kind_of, parse_subject, subject
from gpuagent.sessions.jupyterlab import (
    COMMAND_NOT_FOUND,
    TOKEN_VARIABLE,
    Address,
    NotebookSpec,
    check_port,
    check_times,
    ending,
    jupyter_command,
)
from gpuagent.sessions.spec import ENVIRONMENT_FIELDS, SESSION_FIELDS, SESSION_HELP, file_form, session_job

MiB = 1 << 20
GiB = 1 << 30


def a_job(**options):
    defaults = dict(image="pytorch/pytorch:2.9.0", command=["python", "train.py"])
    return job_from_options("nightly", parse_schedule(at="02:00"), {**defaults, **options})


# -- names ----------------------------------------------------------------------------


def test_a_session_is_named_kind_slash_name():
    assert subject(RunKind.NOTEBOOK, "lab") == "notebook/lab"
    assert subject(RunKind.SHELL, "nightly") == "shell/nightly"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("nightly", "job"), ("notebook/lab", "notebook"), ("shell/nightly", "shell"), ("queue/sweep", "queue")],
)
def test_kind_of_says_what_a_history_row_is(name, kind):
    assert kind_of(name) == kind


@pytest.mark.parametrize("text", ["notebook/lab", "shell/x", "queue/lr", "nightly", "train-2_b"])
def test_parse_subject_takes_jobs_and_sessions(text):
    assert parse_subject(text) == text


def test_parse_subject_refuses_an_unknown_kind_saying_what_a_session_is():
    with pytest.raises(InvalidInput) as caught:
        parse_subject("foo/bar")
    said = f"{caught.value.message} {caught.value.hint or ''}"
    assert "'foo/bar'" in caught.value.message, "the message names what was given"
    assert "notebook/NAME" in said and "shell/NAME" in said and "queue/NAME" in said, f"it says what a session's name is: {said}"


@pytest.mark.parametrize("text", ["shell/Bad Name", "notebook/", "shell/-x", "Nightly", "a" * 64])
def test_parse_subject_refuses_a_bad_name(text):
    with pytest.raises(InvalidInput, match="invalid job"):
        parse_subject(text, "job")


# -- the Job a session runs -----------------------------------------------------------


def test_a_session_takes_the_environment_of_a_job_and_nothing_else():
    job = a_job(
        gpus=1,
        min_free_vram="20GiB",
        memory="64m",
        cpus=2.0,
        volumes=["/data:/data:ro"],
        env=["FOO=bar"],
        env_file="/etc/gpuagent/nightly.env",
        user="1000:1000",
        workdir="/work",
        retries=3,
        timeout="6h",
        vram_policy="fail",
        vram_wait="5m",
    )
    held = file_form(job)

    assert held == {
        "image": "pytorch/pytorch:2.9.0",
        "gpus": 1,
        "min_free_vram": "20GiB",
        "memory": "64MiB",
        "cpus": 2.0,
        "volumes": ["/data:/data:ro"],
        "env": {"FOO": "bar"},
        "env_file": "/etc/gpuagent/nightly.env",
        "user": "1000:1000",
        "workdir": "/work",
        "stop_grace": "10s",
    }, "a job's schedule, command, retries, timeout and VRAM policy are not its environment"
    session = session_job("nightly", held, command=("bash",), timeout=None)
    assert (session.image, session.gpus, session.min_free_vram, session.memory) == ("pytorch/pytorch:2.9.0", 1, 20 * GiB, 64 * MiB)
    assert (session.cpus, session.env, session.env_file) == (2.0, (("FOO", "bar"),), "/etc/gpuagent/nightly.env")
    assert [volume.spec() for volume in session.volumes] == ["/data:/data:ro"]
    assert (session.user, session.workdir, session.stop_grace) == ("1000:1000", "/work", 10)
    assert session.retries == 0, "a session is one attempt"


def test_a_session_carries_every_setting_its_row_says_it_takes_from_a_job():
    job = a_job(
        gpus=1,
        gpu_ids=["0", "1"],
        min_free_vram="20GiB",
        max_gpu_util=50,
        exclusive=True,
        memory="64m",
        cpus=2.0,
        shm_size="1g",
        volumes=["/data:/data:ro"],
        env=["FOO=bar"],
        env_file="/etc/gpuagent/nightly.env",
        user="1000:1000",
        workdir="/work",
        stop_grace="30s",
    )
    session = session_job("nightly", file_form(job), command=("bash",), timeout=None)
    taken = [setting.field for setting in SETTINGS if setting.session == FROM_JOB]
    assert taken == list(ENVIRONMENT_FIELDS)
    for field in taken:
        assert getattr(session, field) == getattr(job, field), field
        assert getattr(job, field) != BY_FIELD[field].default, f"{field}: the job above sets it, so the test sees it carried"
    assert set(SESSION_FIELDS) == {*taken, "vram_wait"} and SESSION_HELP.keys() == {"vram_wait"}


def test_options_given_win_over_the_jobs_settings():
    held = file_form(a_job(memory="64m", env=["FOO=bar"], gpus=1))
    options = given_options({"memory": "1g", "env": ["FOO=baz", "EXTRA=1"], "gpus": 0, "image": "other:1"})
    session = session_job("lab", held | options, command=("jupyter", "lab"), timeout=3600)

    assert session.memory == 1 * GiB
    assert session.env == (("FOO", "baz"), ("EXTRA", "1"))
    assert session.image == "other:1"
    assert session.gpus == 0 and not session.uses_gpu


def test_gpus_default_to_as_many_as_named():
    session = session_job("lab", {"image": "img:1", "gpu_ids": ["0", "2"]}, command=("sh",), timeout=None)
    assert session.gpus == 2
    assert session_job("lab", {"image": "img:1"}, command=("sh",), timeout=None).gpus == 0


def test_image_is_required_when_neither_the_job_nor_the_options_give_one():
    with pytest.raises(InvalidInput) as caught:
        session_job("lab", given_options({"memory": "1g", "image": None}), command=("sh",), timeout=None)
    assert caught.value.message == "--image is required"
    assert "--like JOB" in caught.value.hint


def test_a_cpu_session_with_min_free_vram_is_refused_naming_the_option():
    with pytest.raises(InvalidInput) as caught:
        session_job("lab", given_options({"image": "img:1", "min_free_vram": "8GiB"}), command=("sh",), timeout=None)
    assert "--min-free-vram needs a GPU job" in caught.value.message
    assert "--gpus" in caught.value.hint


def test_errors_name_the_setting_by_the_label_given():
    with pytest.raises(InvalidInput, match="resources.min_free_vram needs a GPU job"):
        session_job("lab", {"image": "img:1", "min_free_vram": "8GiB"}, command=("sh",), timeout=None, label=lambda s: s.path)


def test_a_bad_value_is_refused_naming_its_option():
    with pytest.raises(InvalidInput, match="--memory"):
        session_job("lab", {"image": "img:1", "memory": "lots"}, command=("sh",), timeout=None)


def test_a_jobs_own_settings_are_not_a_sessions():
    with pytest.raises(InvalidInput, match="retries: not a setting of a notebook or shell"):
        session_job("lab", {"image": "img:1", "retries": 2}, command=("sh",), timeout=None)


def test_a_session_waits_for_gpu_memory_only_when_asked():
    held = file_form(a_job(gpus=1, min_free_vram="20GiB", vram_policy="skip", vram_wait="2h"))
    at_once = session_job("nightly", held, command=("sh",), timeout=None)
    assert (at_once.vram_policy, at_once.vram_wait) == ("wait", 0), "someone is at the terminal: fail at once, not after the job's wait"

    waiting = session_job("nightly", held | given_options({"vram_wait": "90s"}), command=("sh",), timeout=None)
    assert (waiting.vram_policy, waiting.vram_wait) == ("wait", 90)


def test_timeout_command_and_schedule_are_the_sessions():
    held = file_form(a_job(timeout="6h"))
    session = session_job("nightly", held, command=("sh", "-c", "echo hi"), timeout=None)
    assert session.command == ("sh", "-c", "echo hi")
    assert session.timeout is None, "the job's timeout is not a shell's"
    assert session.schedule == NO_TIMER
    assert session.name == "nightly"

    assert session_job("lab", held, command=("jupyter",), timeout=7200).timeout == 7200


def test_a_session_name_is_checked():
    with pytest.raises(InvalidInput, match="invalid job name 'Bad Name'"):
        session_job("Bad Name", {"image": "img:1"}, command=("sh",), timeout=None)


def test_session_options_skips_options_not_given_and_reads_the_cli_forms():
    options = given_options({"image": "img:1", "memory": None, "volumes": [], "gpu_ids": [], "env": ["A=1", "B=x=y"], "gpus": 0, "exclusive": False})
    assert options == {"image": "img:1", "env": {"A": "1", "B": "x=y"}, "gpus": 0, "exclusive": False}


def test_session_options_refuses_a_bad_env_pair_naming_the_option():
    with pytest.raises(InvalidInput, match="--env"):
        given_options({"env": ["NOEQUALS"]})


# -- notebooks ------------------------------------------------------------------------


def test_jupyter_is_told_its_idle_timeout_everywhere_it_culls():
    command = jupyter_command(1800)
    assert command[:2] == ("jupyter", "lab")
    assert "--ServerApp.shutdown_no_activity_timeout=1800" in command
    assert "--MappingKernelManager.cull_idle_timeout=1800" in command
    assert "--TerminalManager.cull_inactive_timeout=1800" in command
    assert "--MappingKernelManager.cull_interval=300" in command
    assert "--MappingKernelManager.cull_interval=60" in jupyter_command(60), "a short timeout is checked as often"
    assert "--MappingKernelManager.cull_busy=False" in command
    assert "--port=8888" in command and "--no-browser" in command
    assert not any("token" in part.lower() for part in command), "the token is never on a command line ps shows"


def test_check_times_refuses_an_idle_timeout_longer_than_the_max_time():
    check_times(3600, 3600)
    check_times(60, 7200)
    with pytest.raises(InvalidInput, match="--idle-timeout is longer than --max-time"):
        check_times(7201, 7200)


@pytest.mark.parametrize("port", [80, 1023, 32768, 40000])
def test_check_port_refuses_privileged_and_ephemeral_ports_naming_the_option(port):
    with pytest.raises(InvalidInput) as caught:
        check_port(port)
    assert caught.value.message == f"--port {port} is outside 1024-32767"


@pytest.mark.parametrize("port", [1024, 8888, 32767])
def test_check_port_takes_the_ports_between(port):
    assert check_port(port) == port


def test_address_url_and_tunnel_name_the_same_port():
    address = Address(8890, "t0k3n")
    assert address.url == "http://127.0.0.1:8890/lab?token=t0k3n"
    assert address.tunnel("me@gpu-box") == "ssh -N -L 8890:127.0.0.1:8890 me@gpu-box"


def a_spec(**changes) -> NotebookSpec:
    fields = dict(
        name="lab",
        settings={"image": "img:1", "gpus": 1, "min_free_vram": "8GiB", "env": {"FOO": "bar"}},
        port=8890,
        token="t0k3n",
        idle_timeout=1800,
        max_time=4 * 3600,
        like="nightly",
        started_at=1_700_000_000.5,
    )
    return NotebookSpec(**{**fields, **changes})


def test_a_notebook_spec_round_trips_through_json():
    spec = a_spec()
    text = spec.to_json()
    assert json.loads(text)["token"] == "t0k3n"
    assert NotebookSpec.from_json(text) == spec
    assert NotebookSpec.from_json(a_spec(like=None).to_json()) == a_spec(like=None)
    assert spec.address == Address(8890, "t0k3n")


def test_a_notebooks_job_runs_jupyter_with_its_token_for_at_most_its_max_time():
    job = a_spec().job()
    assert job.command == jupyter_command(1800)
    assert job.timeout == 4 * 3600
    assert dict(job.env) == {"FOO": "bar", TOKEN_VARIABLE: "t0k3n"}
    assert (job.image, job.gpus, job.min_free_vram) == ("img:1", 1, 8 * GiB)
    assert (job.vram_policy, job.vram_wait) == ("wait", 0)
    assert job.schedule == NO_TIMER


def test_a_notebooks_ending_in_its_own_words():
    spec = a_spec(idle_timeout=1800, max_time=4 * 3600)
    assert ending(Status.SUCCEEDED, "exit 0", spec).startswith("JupyterLab shut itself down: idle for its --idle-timeout 30m")
    assert ending(Status.TIMED_OUT, "timed out", spec) == "reached its --max-time 4h and was stopped"
    missing = ending(Status.FAILED, f"exit {COMMAND_NOT_FOUND}", spec)
    assert missing.startswith("exit 127: the image has no `jupyter` command")
    assert "images/notebook" in missing
    assert ending(Status.FAILED, "exit 1", spec) == "exit 1"


def test_options_over_a_job_add_to_its_env_and_volumes_and_replace_the_rest():
    job = {"image": "train:1", "memory": "2g", "env": {"A": "1", "B": "2"}, "volumes": ["/srv/data:/data:ro", "/srv/ckpt:/checkpoints"]}
    options = {"memory": "8g", "env": {"B": "3"}, "volumes": ["/scratch:/data"]}

    merged = options_over(job, options)

    assert merged["memory"] == "8g" and merged["image"] == "train:1"
    assert merged["env"] == {"A": "1", "B": "3"}, "-e adds to the job's env; a key given wins"
    assert merged["volumes"] == ["/srv/ckpt:/checkpoints", "/scratch:/data"], "-v at a path the job mounts replaces that mount"
    assert options_over(job, {}) == job
