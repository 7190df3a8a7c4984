"""The end-to-end harness itself: a booted systemd whose timers fire and log to the
journal, and from which gpuagent's Engine API client reaches the host's dockerd."""

import time

from tests.support.systemd_box import SITE_IN_BOX, SRC_IN_BOX

SERVICE = """\
[Unit]
Description=box smoke test

[Service]
Type=oneshot
ExecStart=/bin/echo smoke-timer-fired
"""

TIMER = """\
[Timer]
OnCalendar=*:*:0/5
AccuracySec=1s

[Install]
WantedBy=timers.target
"""


def test_systemd_is_running(systemd_box):
    state = systemd_box.exec(["systemctl", "is-system-running"], check=False).stdout.strip()
    failed = systemd_box.exec(["systemctl", "--failed", "--no-legend", "--plain"]).stdout
    assert state == "running", f"state {state!r}, failed units:\n{failed}"


def test_timer_fires_and_its_output_reaches_the_journal(systemd_box):
    systemd_box.write_file("/etc/systemd/system/smoke.service", SERVICE)
    systemd_box.write_file("/etc/systemd/system/smoke.timer", TIMER)
    systemd_box.exec(["systemctl", "daemon-reload"])
    systemd_box.exec(["systemctl", "enable", "--now", "smoke.timer"])

    deadline = time.monotonic() + 15  # the timer fires every 5 s
    while "smoke-timer-fired" not in systemd_box.journal("smoke.service"):
        assert time.monotonic() < deadline, "smoke.timer did not fire within 15 s"
        time.sleep(0.2)
    result = systemd_box.exec(["systemctl", "show", "-p", "Result", "smoke.service"])
    assert result.stdout.strip() == "Result=success"


def test_gpuagent_in_the_box_runs_a_container_on_the_host(systemd_box, busybox_image):
    settings = {"image": busybox_image, "command": ["echo", "hello-from-busybox"]}
    script = (
        "from gpuagent.host.dockerd import ContainerSpec, Docker\n"
        "docker = Docker()\n"
        "print(docker.info()['ServerVersion'])\n"
        f"spec = ContainerSpec(name='gpuagent-box-smoke', labels={{'gpuagent-test': 'box-smoke'}}, gpu_uuids=(), settings={settings!r})\n"
        "container = docker.create(spec)\n"
        "try:\n"
        "    chunks = docker.attach(container)\n"
        "    docker.start(container)\n"
        "    print(b''.join(chunks).decode().strip())\n"
        "finally:\n"
        "    docker.remove(container)\n"
    )
    result = systemd_box.exec(["python3", "-c", script], env={"PYTHONPATH": f"{SRC_IN_BOX}:{SITE_IN_BOX}"})
    version, output = result.stdout.split()
    assert version[0].isdigit()
    assert output == "hello-from-busybox"


def test_gpuagent_command_runs_from_the_checkout(systemd_box):
    assert systemd_box.exec(["sh", "-c", "command -v gpuagent"]).stdout.strip() == ("/usr/local/bin/gpuagent")
    imports = "import typer, pynvml, rich, tomli_w, gpuagent; print(gpuagent.__file__)"
    result = systemd_box.exec(["python3", "-c", imports], env={"PYTHONPATH": f"{SRC_IN_BOX}:{SITE_IN_BOX}"})
    assert result.stdout.strip() == f"{SRC_IN_BOX}/gpuagent/__init__.py"
