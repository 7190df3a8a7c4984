"""Every --json record fits its schema (the records' schedules are read by systemd-analyze)."""

import json
import os
import socket

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from gpuagent.host.historydb import HistoryStore
from gpuagent.observe.notifications import Notification
from gpuagent.runs.reservations import Reservations
from tests.gpu_sim import FakeGpu, GiB
from tests.support.agent import AgentHome
from tests.support.json_schema import DOCUMENTS, check
from tests.support.records import T0, record, run_record


@pytest.fixture
def home(tmp_path, fake_gpus):
    home = AgentHome(tmp_path / "agent")
    data = tmp_path / "data"
    data.mkdir()
    home.write_job(
        "full",
        "gpuagent-test/busybox:latest",
        ["python", "train.py"],
        gpus=1,
        gpu_ids=["0"],
        min_free_vram="20GiB",
        memory="32g",
        cpus=1.0,
        shm_size="8g",
        volumes=[f"{data}:/data:ro"],
        env=["BATCH=64"],
        workdir="/workspace",
        user="1000:1000",
        timeout="6h",
        random_delay="10m",
        retries=2,
    )
    home.write_job("bare", "gpuagent-test/busybox:latest", ["true"])
    (home.root / "config" / "jobs" / "broken.toml").write_text("schema_version = 1\n")
    record(
        home.root / "state" / "history.db",
        run_record(
            "a1",
            "full",
            "cuda-oom",
            T0,
            invocation_id="0123456789abcdef0123456789abcdef",
            gpu_uuids=("GPU-a", "GPU-b"),
            gpu_names="NVIDIA H100 80GB HBM3,NVIDIA H100 80GB HBM3",
            driver_version="550.54.15",
            peak_vram_bytes=79 * GiB,
            mean_vram_bytes=60 * GiB,
            mean_gpu_util=91.5,
            image_digest="sha256:" + "ab" * 32,
            job_hash="cd" * 32,
            container_id="ef" * 32,
            log_tail="RuntimeError: CUDA out of memory",
        ),
        run_record(
            "a2", "full", "failed", T0 + 60, attempt=2, first_run_id="a1", metrics={"val_loss": 0.5}, metrics_problem="metrics file: 1 entry ignored"
        ),
        run_record("a3", "full", "succeeded", T0 + 90, metrics={"val_loss": 0.25, "steps": 500.0}),
        run_record("c1", "bare", "succeeded", T0 + 100, upstream_run_id="a1"),
        run_record("b1", "bare", "running", T0 + 120, took=None, agent_pid=None, image=None),
        run_record("n1", "notebook/lab", "running", T0 + 130, took=None, gpu_uuids=("GPU-aaaaaaaa-0000-0000-0000-000000000000",)),
    )
    with Reservations(home.root / "runtime").admission() as book:  # what the notebook reserved and does not use yet
        book.claim("n1", ("GPU-aaaaaaaa-0000-0000-0000-000000000000",), 20 * GiB, "notebook/lab", lasting=True)
    with HistoryStore(home.root / "state" / "history.db") as store:  # so the notification fields are checked, not only null
        store.save_notification(Notification("a1", "full", "notify", "failure", T0 + 95, False, "json: connection refused"))
        store.save_notification(Notification("a1", "full", "ping", "failure", T0 + 95, True, "ping: HTTP 200"))
    fake_gpus.update(
        [
            FakeGpu("GPU-aaaaaaaa-0000-0000-0000-000000000000", used=GiB, processes=[(4_000_000, GiB)], graphics_processes=[(4_000_001, None)]),
            FakeGpu("GPU-bbbbbbbb-0000-0000-0000-000000000000", unsupported={"util", "temp", "power", "used"}),
            FakeGpu("GPU-cccccccc-0000-0000-0000-000000000000", state="unknown"),
        ]
    )
    return home


COMMANDS = {
    "list": ["list"],
    "show": ["show", "full"],
    "status": ["status", "--metric", "val_loss"],
    "history": ["history"],
    "history --run": ["history", "--run", "a1"],
    "history --metric": ["history", "full", "--metric", "val_loss"],
    "gpus": ["gpus"],
}


@pytest.mark.parametrize("document", sorted(COMMANDS))
def test_every_record_fits_the_schema(home, document):
    result = CliRunner().invoke(app, ["--system", *COMMANDS[document], "--json"], env=home.env)

    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    check(output, DOCUMENTS[document])
    records = next(iter(value for value in output.values() if isinstance(value, (list, dict))))
    assert records, "the document has records to check"


@pytest.mark.parametrize("document", ["status", "gpus"])
def test_a_hosts_answers_say_its_name_so_several_can_be_merged(home, document):
    result = CliRunner().invoke(app, ["--system", *COMMANDS[document], "--json"], env=home.env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["host"] == socket.gethostname() == os.uname().nodename


def test_a_host_without_a_driver_still_says_its_name(home, fake_gpus):
    fake_gpus.state_file.unlink()  # NVML: Driver Not Loaded
    result = CliRunner().invoke(app, ["--system", "gpus", "--json"], env=home.env)
    document = json.loads(result.stdout)
    assert document["nvml_error"] and document["host"] == os.uname().nodename
