"""A job file's values are held to their row's TOML type (jobs/settings.py): a value of
another type is an error naming the key and the file, never coerced."""

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.host.dockerd import NOBODY, run_user
from gpuagent.jobs.jobfile import job_from_toml, job_to_toml
from gpuagent.jobs.settings import SETTINGS

BASE = """schema_version = 1
name = "nightly"
image = "img"
command = ["python", "train.py"]

[schedule]
at = "02:00"
"""


def load(text: str, tmp_path):
    return job_from_toml(text, tmp_path / "nightly.toml")


@pytest.mark.parametrize(
    ("change", "key", "got"),
    [
        (('command = ["python", "train.py"]', 'command = "python train.py"'), "command", "a string"),
        (("[schedule]", '[schedule]\npersistent = "false"'), "schedule.persistent", "a string"),
        (("[schedule]", '[schedule]\nenabled = "no"'), "schedule.enabled", "a string"),
        (("[schedule]", "[schedule]\nenabled = 0"), "schedule.enabled", "an integer"),
        (("[schedule]", "[resources]\ngpus = true\n[schedule]"), "resources.gpus", "a boolean"),
        (("[schedule]", "[resources]\ngpus = 1.5\n[schedule]"), "resources.gpus", "a number"),
        (("[schedule]", '[resources]\ngpus = 1\nexclusive = "no"\n[schedule]'), "resources.exclusive", "a string"),
        (("[schedule]", '[resources]\ncpus = "8"\n[schedule]'), "resources.cpus", "a string"),
        (("[schedule]", "[resources]\nmemory = 32\n[schedule]"), "resources.memory", "an integer"),
        (("[schedule]", "[resources]\ngpu = [0, 1]\ngpus = 1\n[schedule]"), "resources.gpu", "a list"),
        (("[schedule]", "[container]\nenv = { BATCH = 64 }\n[schedule]"), "container.env", "a table"),
        (("[schedule]", '[container]\nvolumes = "/data:/data"\n[schedule]'), "container.volumes", "a string"),
        (("[schedule]", '[container]\nretries = "3"\n[schedule]'), "container.retries", "a string"),
        (('image = "img"', "image = 7"), "image", "an integer"),
    ],
)
def test_a_wrong_type_is_refused_naming_key_and_file(tmp_path, change, key, got):
    with pytest.raises(InvalidInput) as caught:
        load(BASE.replace(*change), tmp_path)
    message = caught.value.message
    assert f"{tmp_path / 'nightly.toml'}" in message and f"{key} must be a" in message and got in message, message
    assert caught.value.hint


def test_a_whole_number_of_cpus_is_a_number(tmp_path):
    job = load(BASE.replace("[schedule]", "[resources]\ncpus = 2\n[schedule]"), tmp_path)
    assert job.cpus == 2.0


def test_a_section_that_is_not_a_table_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="resources must be a table"):
        load(BASE.replace("[schedule]", 'resources = "lots"\n[schedule]'), tmp_path)


def test_a_name_other_than_the_file_name_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="is not the file's name"):
        job_from_toml(BASE, tmp_path / "other.toml")


def test_control_characters_in_a_job_file_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="control character"):
        load(BASE.replace('at = "02:00"', 'on = "daily\\nExecStart=/bin/sh"'), tmp_path)
    with pytest.raises(InvalidInput, match="not a valid image"):
        load(BASE.replace('image = "img"', 'image = "img\\n"'), tmp_path)
    with pytest.raises(InvalidInput, match="variable name"):
        load(BASE + '[container]\nenv = { "A=B" = "c" }\n', tmp_path)


def test_every_setting_round_trips_through_the_job_file(tmp_path):
    text = (
        BASE + '[resources]\ngpus = 2\ngpu = ["0", "1"]\nmin_free_vram = "20GiB"\nmemory = "32GiB"\ncpus = 1.5\nshm_size = "8GiB"\n'
        'vram_policy = "skip"\nvram_wait = "10m"\nmax_gpu_util = 50\nexclusive = true\npriority = 80\npreempt = true\n'
        '[container]\nvolumes = ["/data:/data:ro"]\nenv = { BATCH = "64" }\nenv_file = "/etc/gpuagent/nightly.env"\n'
        'workdir = "/workspace"\nuser = "1000:1000"\ntimeout = "6h"\nstop_grace = "30s"\nretries = 2\nretry_delay = "5m"\n'
    ).replace("[schedule]\nat", '[schedule]\npersistent = false\nrandom_delay = "10m"\nafter = "train"\nenabled = false\nat')
    job = load(text, tmp_path)
    for setting in SETTINGS:
        assert getattr(job, setting.field) != setting.default, f"{setting.path} was not read"
    assert load(job_to_toml(job), tmp_path) == job


@pytest.mark.parametrize("image_user", ["", "root", "0", "root:root", "0:0", "root:0", "0:root", "0:1000", " root"])
def test_an_image_user_that_is_root_under_any_spelling_runs_as_nobody(image_user):
    assert run_user(None, image_user) == NOBODY


@pytest.mark.parametrize("image_user", ["trainer", "1000", "1000:0", "rootless"])
def test_an_image_user_that_is_not_root_is_kept(image_user):
    assert run_user(None, image_user) == image_user


def test_a_job_that_says_its_user_gets_it():
    assert run_user("0", "trainer") == "0"


def test_enabled_is_written_only_when_false_and_read_back(tmp_path):
    job = load(BASE, tmp_path)
    assert job.enabled is True, "a job is enabled unless its file says otherwise"
    assert "enabled" not in job_to_toml(job), "the default is not written"
    paused = load(BASE.replace("[schedule]", "[schedule]\nenabled = false"), tmp_path)
    assert paused.enabled is False
    written = job_to_toml(paused)
    assert "enabled = false" in written.split("[schedule]")[1], written
    assert load(written, tmp_path) == paused
