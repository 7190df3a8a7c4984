"""host/dockerd.py's container_spec: what docker's create call gets for a run, made from
each setting's `docker` column, with the run's own parts and the safe defaults."""

import pytest

from gpuagent.host.dockerd import LABEL_JOB, LABEL_RUN, NOBODY, container_spec, create_body, run_user
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.jobs.settings import SETTINGS


def make_job(tmp_path, **options):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    defaults = dict(image="img:1", command=["python", "train.py"])
    return job_from_options("nightly", parse_schedule(at="02:00"), dict(**{**defaults, **options}))


def test_run_user_never_defaults_to_root():
    assert run_user(None, "") == NOBODY
    assert run_user(None, "root") == NOBODY
    assert run_user(None, "0:0") == NOBODY
    assert run_user(None, "trainer") == "trainer"
    assert run_user("0", "trainer") == "0"


def test_spec_carries_limits_labels_gpus_and_volumes(tmp_path):
    job = make_job(tmp_path, memory="512m", cpus=1.5, shm_size="64m", volumes=[f"{tmp_path}/data:/data:ro"], gpus=1)
    spec = container_spec(job, "abc123", ("GPU-1",), image_user="")
    create = spec.create_arguments()
    assert create["labels"] == {LABEL_JOB: "nightly", LABEL_RUN: "abc123"}
    assert create["mem_limit"] == create["memswap_limit"] == 512 * 1024**2, "no swap on top of the memory limit"
    assert create["nano_cpus"] == 1_500_000_000
    assert create["shm_size"] == 64 * 1024**2
    assert create["volumes"] == {f"{tmp_path}/data": {"bind": "/data", "mode": "ro"}}
    assert spec.gpu_uuids == ("GPU-1",)
    assert (create["image"], create["command"]) == ("img:1", ["python", "train.py"])
    assert create["user"] == NOBODY


def test_env_options_override_the_env_file(tmp_path):
    env_file = tmp_path / "job.env"
    env_file.write_text("# secrets\nTOKEN=s3cret\nBATCH=32\n\n")
    job = make_job(tmp_path, env_file=str(env_file), env=["BATCH=64"])
    spec = container_spec(job, "r", (), image_user="")
    assert sorted(spec.create_arguments()["environment"]) == ["BATCH=64", "NVIDIA_VISIBLE_DEVICES=void", "TOKEN=s3cret"]


def test_a_cpu_job_sees_no_gpu_unless_it_says_otherwise(tmp_path):
    def environment(job, gpu_uuids=()):
        return container_spec(job, "r", gpu_uuids, image_user="").create_arguments()["environment"]

    assert "NVIDIA_VISIBLE_DEVICES=void" in environment(make_job(tmp_path))
    assert not any(pair.startswith("NVIDIA_VISIBLE_DEVICES") for pair in environment(make_job(tmp_path, gpus=1), ("GPU-1",)))
    assert "NVIDIA_VISIBLE_DEVICES=all" in environment(make_job(tmp_path, env=["NVIDIA_VISIBLE_DEVICES=all"]))


def test_every_container_gets_the_safe_defaults(tmp_path):
    create = container_spec(make_job(tmp_path), "r", (), image_user="root").create_arguments()
    assert create["init"] is True and create["security_opt"] == ["no-new-privileges"]
    assert create["user"] == NOBODY, "an image that runs as root runs as nobody unless the job says --user 0"
    assert not any("docker.sock" in host for host in create["volumes"])
    assert (create["tty"], create["stdin_open"], create["ports"]) == (False, False, None)


def test_the_job_user_and_the_runs_own_environment_and_volumes_win(tmp_path):
    job = make_job(tmp_path, user="0", env=["GPUAGENT_RUN_ID=forged"], volumes=[f"{tmp_path}/data:/run/gpuagent"])
    spec = container_spec(
        job, "r", (), image_user="trainer", run_env={"GPUAGENT_RUN_ID": "r"}, run_volumes={"/var/run-files": {"bind": "/run/gpuagent", "mode": "rw"}}
    )
    create = spec.create_arguments()
    assert create["user"] == "0"
    assert "GPUAGENT_RUN_ID=r" in create["environment"] and "GPUAGENT_RUN_ID=forged" not in create["environment"]
    assert create["volumes"]["/var/run-files"] == {"bind": "/run/gpuagent", "mode": "rw"}


def test_each_container_setting_reaches_the_create_call_by_its_row(tmp_path):
    """The `docker` column is the only map from a setting to docker: a row's keyword
    arguments are what the create call gets (the run's own parts aside)."""
    job = make_job(tmp_path, memory="1g", cpus=2.0, shm_size="1g", workdir="/w", user="1000")
    create = container_spec(job, "r", (), image_user="").create_arguments()
    for setting in SETTINGS:
        if setting.docker is None or setting.field in ("env", "volumes"):  # merged with the env file's and the run's own
            continue
        for keyword, value in setting.docker(getattr(job, setting.field)).items():
            assert create[keyword] == value, f"{setting.field}: {keyword}"
    create_body(create, ())  # and each has its place in the Engine API's request


def test_the_create_request_places_every_option_where_the_engine_api_wants_it(tmp_path):
    job = make_job(tmp_path, memory="512m", cpus=1.5, shm_size="64m", volumes=[f"{tmp_path}/data:/data:ro"], workdir="/w", user="1000", env=["A=1"])
    spec = container_spec(job, "abc123", ("GPU-1", "GPU-2"), image_user="", ports={8888: ("127.0.0.1", 40123)})
    body = create_body(spec.create_arguments(), spec.gpu_uuids)
    host = body.pop("HostConfig")
    assert body == {
        "Image": "img:1",
        "Cmd": ["python", "train.py"],
        "Env": ["A=1"],
        "WorkingDir": "/w",
        "User": "1000",
        "Labels": {LABEL_JOB: "nightly", LABEL_RUN: "abc123"},
        "Tty": False,
        "OpenStdin": False,
        "ExposedPorts": {"8888/tcp": {}},
    }
    assert host == {
        "NetworkMode": "default",
        "Memory": 512 * 1024**2,
        "MemorySwap": 512 * 1024**2,
        "NanoCpus": 1_500_000_000,
        "ShmSize": 64 * 1024**2,
        "Binds": [f"{tmp_path}/data:/data:ro"],
        "PortBindings": {"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": "40123"}]},
        "Init": True,
        "SecurityOpt": ["no-new-privileges"],
        "DeviceRequests": [{"Driver": "", "Count": 0, "DeviceIDs": ["GPU-1", "GPU-2"], "Capabilities": [["gpu"]], "Options": {}}],
    }


def test_an_unset_limit_is_left_out_and_an_option_without_a_place_is_refused(tmp_path):
    host = create_body(container_spec(make_job(tmp_path), "r", (), image_user="").create_arguments(), ())["HostConfig"]
    assert not {"Memory", "NanoCpus", "ShmSize", "DeviceRequests", "PortBindings"} & set(host)
    with pytest.raises(ValueError, match="no Engine API field for the create option 'cap_add'"):
        create_body({"cap_add": ["SYS_ADMIN"]}, ())
