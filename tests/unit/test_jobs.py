import dataclasses
import os
import types
import typing

import pytest

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.jobs.catalog import load_job
from gpuagent.jobs.job import Job, job_from_options
from gpuagent.jobs.jobfile import job_from_toml, job_to_toml
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.jobs.settings import SETTINGS


@pytest.fixture
def full_job(tmp_path):
    (tmp_path / "data").mkdir()
    env_file = tmp_path / "nightly.env"
    env_file.write_text("TOKEN=x\n")
    options = dict(
        image="registry.example.com:5000/team/trainer:2.9@sha256:" + "a" * 64,
        command=["python", "train.py", "--epochs", "3"],
        gpus=1,
        gpu_ids=["0", "GPU-12345678-1234-1234-1234-123456789abc"],
        min_free_vram="20GiB",
        memory="32g",
        cpus=1.5,
        shm_size="8g",
        volumes=[f"{tmp_path}/data:/data:ro", f"{tmp_path}/data:/ckpt"],
        env=["BATCH=64", "NOTE=50% off $HOME"],
        env_file=str(env_file),
        workdir="/workspace",
        user="1000:1000",
        timeout="6h",
        persistent=False,
        random_delay="10m",
    )
    return job_from_options("nightly", parse_schedule(cron="0 2 * * 1-5"), options)


def test_the_job_class_has_a_field_per_row_of_the_settings_table():
    fields = dataclasses.fields(Job)
    assert [field.name for field in fields] == ["name", "schedule", *(setting.field for setting in SETTINGS)], (
        "Job's fields are the table's, in its order"
    )
    with_default = [field.name for field in fields if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING]
    assert with_default == [], "the table holds the defaults; build_job fills every field"


def _fits(value, hint) -> bool:
    """Whether `value` is of the type `hint` (a class, X | None, a Literal, tuple[X, ...] or tuple[X, Y])."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return value in arguments
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, argument) for argument in arguments)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return all(_fits(item, arguments[0]) for item in value)
        return len(value) == len(arguments) and all(_fits(item, argument) for item, argument in zip(value, arguments, strict=True))
    if hint is float:
        return isinstance(value, float)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def test_each_field_holds_what_its_type_says(full_job):
    bare = job_from_options("bare", parse_schedule(at="02:00"), dict(image="img:1", command=["true"]))
    hints = typing.get_type_hints(Job)
    for job in (full_job, bare):
        for field in dataclasses.fields(Job):
            value = getattr(job, field.name)
            assert _fits(value, hints[field.name]), f"{job.name}.{field.name} = {value!r} is not {hints[field.name]}"
    assert not _fits((("A", 1),), hints["env"]) and not _fits(True, hints["gpus"]) and not _fits("never", hints["vram_policy"]), (
        "the check itself tells a wrong value"
    )


def write(tmp_path, text: str, name: str = "nightly"):
    path = tmp_path / "jobs" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    return path


def test_job_file_round_trips(tmp_path, full_job):
    text = job_to_toml(full_job)
    assert "schema_version = 1" in text
    assert job_from_toml(text, tmp_path / "nightly.toml") == full_job


def test_unknown_key_is_an_error_naming_key_and_file(tmp_path, full_job):
    path = write(tmp_path, job_to_toml(full_job).replace("[resources]", "[resources]\ngpu_count = 2"))
    with pytest.raises(InvalidInput) as caught:
        load_job(path)
    assert "resources.gpu_count" in caught.value.message
    assert str(path) in caught.value.message


def test_hand_edited_bad_value_is_held_to_the_cli_rules(tmp_path, full_job):
    path = write(tmp_path, job_to_toml(full_job).replace('memory = "32GiB"', 'memory = "0"'))
    with pytest.raises(InvalidInput, match="resources.memory"):
        load_job(path)


def test_newer_schema_is_refused_with_a_hint(tmp_path, full_job):
    path = write(tmp_path, job_to_toml(full_job).replace("schema_version = 1", "schema_version = 99"))
    with pytest.raises(InvalidInput) as caught:
        load_job(path)
    assert "schema_version 99" in caught.value.message and caught.value.hint


def test_group_writable_job_file_is_refused(tmp_path, full_job):
    path = write(tmp_path, job_to_toml(full_job))
    os.chmod(path, 0o664)
    with pytest.raises(InvalidInput, match="chmod|writable"):
        load_job(path)


def test_name_must_match_the_file(tmp_path, full_job):
    path = write(tmp_path, job_to_toml(full_job), name="other")
    with pytest.raises(InvalidInput, match="is not the file's name"):
        load_job(path)


def test_missing_job_is_not_found(tmp_path):
    with pytest.raises(NotFound, match="no job named 'ghost'"):
        load_job(tmp_path / "jobs" / "ghost.toml")


def test_broken_toml_names_the_file(tmp_path):
    path = write(tmp_path, "schema_version = [")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_job(path)


def test_gpu_ids_alone_imply_the_gpu_count(tmp_path):
    job = job_from_options("j", parse_schedule(at="02:00"), dict(image="img", command=["true"], gpu_ids=["0", "1"]))
    assert job.gpus == 2 and job.uses_gpu
