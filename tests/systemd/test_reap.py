"""The service's ExecStopPost reap in a real systemd: an agent killed outright (SIGKILL:
systemd passes SERVICE_RESULT=signal) leaves its container, which the reap removes, and
its run, which it marks lost."""

import signal
import subprocess

from gpuagent.host.dockerd import LABEL_JOB
from tests.support.agent import wait_for
from tests.support.boxed import gpuagent, runs, unit_property


def test_a_sigkilled_agents_container_is_reaped_and_its_run_marked_lost(systemd_box, busybox_image):
    box = systemd_box
    gpuagent(box, "add", "doomed", "--at", "03:00", "--disabled", "--image", busybox_image, "--", "sh", "-c", "echo started; sleep 600")
    gpuagent(box, "trigger", "doomed")
    wait_for(lambda: "started" in box.journal("gpuagent@doomed.service"), timeout=60, what="the container to start")
    [running] = runs(box, "doomed")
    assert running.status == "running" and running.container_id

    box.exec(["systemctl", "kill", "--kill-whom=main", f"--signal={int(signal.SIGKILL)}", "gpuagent@doomed.service"])

    wait_for(lambda: unit_property(box, "gpuagent@doomed.service", "ActiveState") in ("failed", "inactive"), timeout=60, what="the unit to end")
    assert unit_property(box, "gpuagent@doomed.service", "Result") == "signal"
    [lost] = runs(box, "doomed")
    assert lost.run_id == running.run_id and lost.status == "lost"
    assert "reaping container" in box.journal("gpuagent@doomed.service")
    # the box's gpuagent talks to this host's dockerd
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL_JOB}=doomed"], capture_output=True, text=True, check=True)
    assert left.stdout.strip() == ""
