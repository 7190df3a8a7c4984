from gpuagent.host.dockerd import LABEL_JOB, LABEL_RUN, NOBODY, container_spec, run_user
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule


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
    assert spec.labels == {LABEL_JOB: "nightly", LABEL_RUN: "abc123"}
    assert spec.memory == 512 * 1024**2
    assert spec.nano_cpus == 1_500_000_000
    assert spec.shm_size == 64 * 1024**2
    assert spec.volumes == {f"{tmp_path}/data": {"bind": "/data", "mode": "ro"}}
    assert spec.gpu_uuids == ("GPU-1",)
    assert spec.command == ("python", "train.py")
    assert spec.user == NOBODY


def test_env_options_override_the_env_file(tmp_path):
    env_file = tmp_path / "job.env"
    env_file.write_text("# secrets\nTOKEN=s3cret\nBATCH=32\n\n")
    job = make_job(tmp_path, env_file=str(env_file), env=["BATCH=64"])
    spec = container_spec(job, "r", (), image_user="")
    assert sorted(spec.environment) == ["BATCH=64", "NVIDIA_VISIBLE_DEVICES=void", "TOKEN=s3cret"]


def test_a_cpu_job_sees_no_gpu_unless_it_says_otherwise(tmp_path):
    assert "NVIDIA_VISIBLE_DEVICES=void" in container_spec(make_job(tmp_path), "r", (), image_user="").environment
    gpu_job = container_spec(make_job(tmp_path, gpus=1), "r", ("GPU-1",), image_user="")
    assert not any(pair.startswith("NVIDIA_VISIBLE_DEVICES") for pair in gpu_job.environment)
    chosen = container_spec(make_job(tmp_path, env=["NVIDIA_VISIBLE_DEVICES=all"]), "r", (), image_user="")
    assert "NVIDIA_VISIBLE_DEVICES=all" in chosen.environment
