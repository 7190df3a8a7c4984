"""A run's own numbers, through the real dockerd: the container writes the file gpuagent
names in GPUAGENT_METRICS_FILE, gpuagent reads it after the exit and keeps it with the
run; a file that breaks the rules never fails the run, and leaves nothing behind."""

import json

import pytest

from tests.support.agent import AgentHome


@pytest.fixture
def home(tmp_path):
    return AgentHome(tmp_path / "agent")


def run_writing(home: AgentHome, image: str, script: str, **options):
    home.write_job("learner", image, ["sh", "-c", script], **options)
    result = home.run("run", "learner")
    assert result.returncode == 0, result.stderr
    return home.last_run("learner"), result


def test_the_numbers_a_run_writes_are_in_its_record_and_in_json(home, busybox_image):
    run, _ = run_writing(
        home, busybox_image, 'echo "{\\"val_loss\\": 0.125, \\"steps\\": 300}" > "$GPUAGENT_METRICS_FILE"; echo "$GPUAGENT_JOB $GPUAGENT_RUN_ID"'
    )
    assert (run.status, run.metrics, run.metrics_problem) == ("succeeded", {"val_loss": 0.125, "steps": 300.0}, None)
    shown = json.loads(home.run("history", "--run", run.run_id, "--json").stdout)["run"]
    assert shown["metrics"] == {"val_loss": 0.125, "steps": 300.0}
    text = home.run("history", "--run", run.run_id).stdout
    assert "val_loss = 0.125" in text and "steps = 300" in text


def test_the_container_is_told_its_job_and_run(home, busybox_image):
    run, result = run_writing(home, busybox_image, 'echo "$GPUAGENT_JOB $GPUAGENT_RUN_ID $GPUAGENT_METRICS_FILE"')
    assert f"learner {run.run_id} /gpuagent/out/metrics.json" in result.stdout
    assert run.metrics is None and run.metrics_problem is None  # wrote none: nothing to say


def test_the_default_user_nobody_can_write_it(home, busybox_image):
    run, _ = run_writing(home, busybox_image, 'id -u; echo "{\\"a\\": 1}" > "$GPUAGENT_METRICS_FILE"')
    assert run.metrics == {"a": 1.0}


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        ('echo "loss=0.3" > "$GPUAGENT_METRICS_FILE"', "metrics file is not JSON"),
        ('head -c 70000 /dev/zero | tr "\\0" 1 > "$GPUAGENT_METRICS_FILE"', "metrics file is over 64 KiB"),
        ('echo "{\\"ok\\": 1, \\"bad name\\": 2}" > "$GPUAGENT_METRICS_FILE"', "1 entry ignored: 'bad name'"),
        ('ln -s /etc/shadow "$GPUAGENT_METRICS_FILE"', "is a symbolic link, not a plain file"),
        ('mkfifo "$GPUAGENT_METRICS_FILE"', "is a FIFO, not a plain file"),
        ('mkdir "$GPUAGENT_METRICS_FILE"', "is a directory, not a plain file"),
        ('head -c 30000 /dev/zero | tr "\\0" "[" > "$GPUAGENT_METRICS_FILE"', "nests too deeply"),
        (f'echo "{{\\"big\\": 1{"0" * 400}}}" > "$GPUAGENT_METRICS_FILE"', "big = Infinity or a number beyond that"),
        ('echo "{\\"a\\": NaN, \\"b\\": Infinity}" > "$GPUAGENT_METRICS_FILE"', "a = NaN"),
        ('printf "\\377\\376{}" > "$GPUAGENT_METRICS_FILE"', "metrics file is not JSON"),
    ],
    ids=["not-json", "huge", "bad-name", "symlink", "fifo", "directory", "deep-json", "400-digit-int", "nan-infinity", "not-utf8"],
)
def test_a_bad_file_leaves_the_run_succeeded_with_the_problem_recorded(home, busybox_image, script, problem):
    run, result = run_writing(home, busybox_image, script)
    assert run.status == "succeeded"
    assert problem in run.metrics_problem
    assert problem in result.stderr  # and said in the journal
    assert "root:" not in json.dumps(run.metrics or {})


def test_the_run_files_are_gone_after_the_run(home, busybox_image):
    run, _ = run_writing(home, busybox_image, 'echo "{}" > "$GPUAGENT_METRICS_FILE"')
    assert run.metrics == {}
    left = home.root / "runtime" / "runs" / "learner"
    assert not left.exists() or list(left.iterdir()) == []
