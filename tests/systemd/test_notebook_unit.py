"""Notebooks in a real systemd: `notebook start` starts the unit gpuagent ships and waits
until JupyterLab answers; `list` shows it, `logs` its journal, `stop` ends it; its own
idle timeout ends it too; each time its container goes and history keeps the session."""

import json
import re
import subprocess
import time
import urllib.request

import pytest

from gpuagent.host.dockerd import LABEL_JOB
from tests.support.agent import wait_for
from tests.support.boxed import gpuagent, runs, unit_property
from tests.support.images import ensure_notebook_image
from tests.support.json_schema import DOCUMENTS, check

URL = re.compile(r"http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]+)")


@pytest.fixture(scope="module")
def notebook_image() -> str:
    return ensure_notebook_image()


def containers(holder: str) -> list[str]:
    # the box's gpuagent talks to this host's dockerd
    listed = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL_JOB}={holder}"], capture_output=True, text=True, check=True)
    return listed.stdout.split()


def answers(port: str, token: str) -> bool:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status == 200


def test_start_list_logs_and_stop_a_notebook(systemd_box, notebook_image, busybox_image):
    box = systemd_box
    gpuagent(
        box, "add", "nightly", "--at", "02:00", "--image", busybox_image, "-e", "PROJECT=ranking", "-e", "SEED=1", "--memory", "2g", "--", "true"
    )
    started = time.monotonic()
    result = gpuagent(box, "notebook", "start", "lab", "--like", "nightly", "--image", notebook_image, "-e", "SEED=2")
    took = time.monotonic() - started

    port, token = URL.search(result.stdout).groups()
    assert answers(port, token), "the URL start printed works"
    assert f"ssh -N -L {port}:127.0.0.1:{port} root@" in result.stdout, result.stdout
    assert re.search(r"answers after \d+\.\d+s", result.stdout)
    print(f"notebook start to a usable URL: {took:.1f} s (it says: {re.search(r'answers after [0-9.]+s', result.stdout).group()})")
    assert unit_property(box, "gpuagent-notebook@lab.service", "ActiveState") == "active"
    [container] = containers("notebook/lab")
    inspected = json.loads(subprocess.run(["docker", "inspect", container], capture_output=True, text=True, check=True).stdout)[0]
    assert {"PROJECT=ranking", "SEED=2"} <= set(inspected["Config"]["Env"]), "the --like job's env, the options given winning"
    assert inspected["HostConfig"]["Memory"] == 2 * 1024**3, "and its limits"

    again = gpuagent(box, "notebook", "start", "lab", "--image", notebook_image, check=False)
    assert again.returncode == 2 and "running already" in again.stderr, "a second start of a running notebook is refused"

    listed = gpuagent(box, "notebook", "list").stdout
    assert "lab" in listed and f"127.0.0.1:{port}" in listed and "running" in listed
    document = json.loads(gpuagent(box, "notebook", "list", "--json").stdout)
    check(document, DOCUMENTS["notebook list"])
    [notebook] = document["notebooks"]
    assert notebook["active"] and notebook["port"] == int(port) and token in notebook["url"] and notebook["run"]["kind"] == "notebook"
    assert "ServerApp" in gpuagent(box, "logs", "notebook/lab").stdout, "JupyterLab's own output is in the unit's journal"

    stopped = gpuagent(box, "notebook", "stop", "lab")

    assert "notebook lab stopped" in stopped.stdout and "stopped after" in stopped.stdout
    assert unit_property(box, "gpuagent-notebook@lab.service", "ActiveState") == "inactive"
    assert unit_property(box, "gpuagent-notebook@lab.service", "Result") == "success", "a notebook stopped is no failure"
    [session] = runs(box, "notebook/lab")
    assert session.status == "stopped"
    assert containers("notebook/lab") == []
    assert "no notebook is running" in gpuagent(box, "notebook", "list").stdout


def test_a_notebook_left_idle_stops_itself(systemd_box, notebook_image):
    box = systemd_box
    result = gpuagent(box, "notebook", "start", "idle", "--image", notebook_image, "--idle-timeout", "5s")
    port, token = URL.search(result.stdout).groups()
    assert answers(port, token)

    # JupyterLab looks for an idle server once a minute
    wait_for(
        lambda: unit_property(box, "gpuagent-notebook@idle.service", "ActiveState") == "inactive",
        timeout=150,
        interval=1,
        what="the idle notebook to stop",
    )

    assert unit_property(box, "gpuagent-notebook@idle.service", "Result") == "success"
    [session] = runs(box, "notebook/idle")
    assert session.status == "succeeded" and "idle" in session.reason, session.reason
    assert containers("notebook/idle") == []


def test_a_notebook_that_cannot_start_says_why(systemd_box, busybox_image):
    result = gpuagent(systemd_box, "notebook", "start", "broken", "--image", busybox_image, check=False)

    assert result.returncode == 1
    assert "ended before its URL answered" in result.stderr and "images/notebook" in result.stderr, result.stderr
    assert containers("notebook/broken") == []
