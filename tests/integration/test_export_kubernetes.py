"""`gpuagent export --to kubernetes` against a real Kubernetes 1.20 control plane
(tests/support/kube.py): the API server's own validation, then its CronJob controller
making Jobs from what was exported.

Every CronJob the module makes runs every minute, and all are created by one fixture
before the first wait, so the whole module waits for one minute boundary, not one each.
"""

import pytest

from tests.support.kube import KubeCluster, KubeRefused

PROBE = "probe"


def hand_written_cronjob(name: str, schedule: str) -> dict:
    return {
        "apiVersion": "batch/v1beta1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}}}},
        },
    }


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory):
    with KubeCluster(tmp_path_factory.mktemp("kube")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cronjobs(kube_cluster: KubeCluster) -> KubeCluster:
    """The cluster once every CronJob of the module exists (the minute starts ticking)."""
    kube_cluster.create(hand_written_cronjob(PROBE, "* * * * *"))
    return kube_cluster


def test_the_server_refuses_a_four_field_schedule_with_its_own_message(kube_cluster: KubeCluster):
    """The engine itself, before any export: its validation answers in words."""
    with pytest.raises(KubeRefused) as refused:
        kube_cluster.create(hand_written_cronjob("four-fields", "* * * *"), dry_run=True)

    assert refused.value.status == 422
    assert "spec.schedule" in refused.value.message
    assert "Expected exactly 5 fields, found 4" in refused.value.message


def test_the_cronjob_controller_makes_a_job_of_a_hand_written_cronjob(cronjobs: KubeCluster):
    job = cronjobs.wait_for_job_of(PROBE)

    assert job["metadata"]["name"].startswith(f"{PROBE}-")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
