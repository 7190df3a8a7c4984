"""`gpuagent export --to slurm` on a real Slurm: one node on loopback with two simulated
GPUs (tests/support/slurm.py). The exported scripts run through sbatch and scrontab,
start their containers on the host's dockerd, and are judged by what Slurm recorded."""

from pathlib import Path

import pytest

from tests.support.slurm import SlurmCluster, running_cluster

pytestmark = pytest.mark.docker

SMI_QUERY = "nvidia-smi --query-gpu=index,memory.free,utilization.gpu --format=csv,noheader,nounits"


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory, docker_client):
    with running_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


def test_the_cluster_gives_a_job_a_gpu_that_docker_and_nvidia_smi_agree_on(slurm_cluster: SlurmCluster, tmp_path: Path, busybox_image):
    """The engine itself, before any export: a hand-written batch script."""
    script = tmp_path / "probe.sbatch"
    script.write_text(
        "#!/bin/bash\n"
        "#SBATCH --gres=gpu:1 --output=%x-%j.out\n"
        f"{SMI_QUERY}\n"
        f"docker run --rm --gpus \"device=$SLURM_JOB_GPUS\" {busybox_image} sh -c 'echo visible=$NVIDIA_VISIBLE_DEVICES'\n"
    )
    job_id = slurm_cluster.submit(script, tmp_path)
    end = slurm_cluster.wait_ended(job_id)

    assert (end.name, end.state, end.exit_code) == ("probe.sbatch", "COMPLETED", "0:0")
    assert end.gpus in ("0", "1")
    output = (tmp_path / f"probe.sbatch-{job_id}.out").read_text().splitlines()
    assert output == ["0, 81920, 0", "1, 81920, 0", f"visible={end.gpus}"]
