"""`gpuagent doctor` against the real dockerd, a simulated GPU host and scratch
directories: each problem found, with the command that fixes it. (A host where nothing
stops runs, exit 0, is in the e2e tests: it needs a booted systemd.)"""

import json

import pytest

from gpuagent.core.paths import resolve_paths
from gpuagent.host.files import write_atomic
from gpuagent.jobs.catalog import load_job
from gpuagent.jobs.units import SERVICE_TEMPLATE, SHIPPED_UNITS, timer_text
from tests.gpu_sim import FakeGpu, FakeGpuHost
from tests.support.agent import AgentHome
from tests.support.json_schema import DOCTOR, check


def doctor(home: AgentHome) -> tuple[int, dict[str, list[dict]]]:
    result = home.run("doctor", "--json")
    report = json.loads(result.stdout)
    check(report, DOCTOR)
    assert report["ready"] is (result.returncode == 0)
    findings: dict[str, list[dict]] = {}
    for finding in report["findings"]:
        findings.setdefault(finding["check"], []).append(finding)
    return result.returncode, findings


def levels(findings: list[dict]) -> list[str]:
    return [finding["level"] for finding in findings]


@pytest.fixture
def gpu_host(tmp_path):
    return FakeGpuHost(
        tmp_path, [FakeGpu("GPU-aaaaaaaa-0000-0000-0000-000000000000"), FakeGpu("GPU-bbbbbbbb-0000-0000-0000-000000000000", state="lost")]
    )


def test_each_problem_with_its_fix(tmp_path, busybox_image):
    home = AgentHome(tmp_path / "agent", extra_env={"LD_LIBRARY_PATH": "/nonexistent"})
    home.write_job("gpujob", busybox_image, ["true"], gpus=1)
    (home.root / "unit" / "gpuagent@gpujob.timer").write_text("[Timer]\nOnCalendar=daily\n")
    home.write_job("cpujob", busybox_image, ["true"])
    (home.root / "config" / "jobs" / "broken.toml").write_text("schema_version = 1\n")
    (home.root / "unit" / "gpuagent@gone.timer").write_text("[Timer]\nOnCalendar=daily\n")
    (home.root / "state").chmod(0o777)

    status, findings = doctor(home)

    assert status == 1
    template, handler, notebook, *queue_units, boot_pass = findings["template-unit"]
    assert template["level"] == "error" and f"no gpuagent@.service ({home.root}/unit/gpuagent@.service or " in template["message"]
    assert template["message"].endswith(": no job can start") and template["fix"] == "gpuagent sync"
    assert handler["level"] == "warning", "without the failure handler runs still run: only a killed agent's run goes unnotified"
    assert f"no gpuagent-on-failure@.service ({home.root}/unit/gpuagent-on-failure@.service or " in handler["message"]
    assert "nobody is notified" in handler["message"] and handler["fix"] == "gpuagent sync"
    assert notebook["level"] == "warning" and "`gpuagent notebook start` cannot start a notebook" in notebook["message"], "jobs run without it"
    assert [unit["level"] for unit in queue_units] == ["warning"] * 3, "jobs run without the queue's units"
    assert boot_pass["level"] == "warning" and "gpuagent-boot.service" in boot_pass["message"], "jobs run without it"
    assert "no submitted run can start" in queue_units[0]["message"]
    assert levels(findings["docker"]) == ["ok"]
    [driver] = findings["nvidia-driver"]
    assert driver["level"] == "error" and "GPU jobs cannot run" in driver["message"] and "nvidia-smi" in driver["fix"]
    by_path = {finding["message"].split()[0].rstrip(":"): finding for finding in findings["directory"]}
    assert by_path[str(home.root / "state")]["level"] == "warning"
    assert by_path[str(home.root / "state")]["fix"] == f"chmod go-w {home.root / 'state'}"
    assert by_path[str(home.root / "config")]["level"] == "ok"
    jobs = {finding["message"]: finding for finding in findings["job"]}
    broken = next(finding for message, finding in jobs.items() if message.startswith("job broken will not run"))
    assert broken["level"] == "error" and "missing key" in broken["message"] and broken["fix"].startswith(f"edit {home.root}/config/jobs/broken.toml")
    no_timer = next(finding for message, finding in jobs.items() if message.startswith("job cpujob has no timer"))
    assert no_timer["level"] == "error" and no_timer["fix"] == "gpuagent sync"
    drift = next(finding for message, finding in jobs.items() if message.startswith("job gpujob: its timer"))
    assert drift["level"] == "warning" and "differs from its job file" in drift["message"] and drift["fix"] == "gpuagent sync"
    orphan = next(finding for message, finding in jobs.items() if "gpuagent@gone.timer has no job file" in message)
    assert (orphan["level"], orphan["fix"]) == ("warning", "gpuagent sync")


def test_a_timer_as_sync_writes_it_and_packaged_units_are_fine(tmp_path, busybox_image):
    home = AgentHome(tmp_path / "agent")
    job_file = home.write_job("nightly", busybox_image, ["true"])
    paths = resolve_paths(user_mode=False, env=home.env)
    write_atomic(paths.timer_file("nightly"), timer_text(paths, load_job(job_file)))
    for unit in SHIPPED_UNITS:
        write_atomic(paths.package_unit_dir / unit.name, unit.text())

    _, findings = doctor(home)

    assert {finding["message"]: finding["level"] for finding in findings["job"]} == {"job nightly is valid": "ok"}
    assert [(finding["level"], finding["message"]) for finding in findings["template-unit"]] == [
        ("ok", f"{paths.package_unit_dir}/gpuagent@.service is installed and current"),
        ("ok", f"{paths.package_unit_dir}/gpuagent-on-failure@.service is installed and current"),
        ("ok", f"{paths.package_unit_dir}/gpuagent-notebook@.service is installed and current"),
        ("ok", f"{paths.package_unit_dir}/gpuagent-queued@.service is installed and current"),
        ("ok", f"{paths.package_unit_dir}/gpuagent-dispatch@.service is installed and current"),
        ("ok", f"{paths.package_unit_dir}/gpuagent-dispatch.timer is installed and current"),
        ("ok", f"{paths.package_unit_dir}/gpuagent-boot.service is installed and current"),
    ]


def test_current_units_and_readable_gpus_are_fine_and_cpu_only_hosts_only_warn(tmp_path, gpu_host):
    home = AgentHome(tmp_path / "agent", extra_env=gpu_host.env())
    for unit in SHIPPED_UNITS:
        (home.root / "unit" / unit.name).write_text(unit.text())

    _, findings = doctor(home)

    assert levels(findings["template-unit"]) == ["ok"] * len(SHIPPED_UNITS)
    assert levels(findings["nvidia-driver"]) == ["ok"] and "NVIDIA driver 550.54.15; NVML sees 2 GPU(s)" in findings["nvidia-driver"][0]["message"]
    [lost] = findings["gpu"]
    assert lost["level"] == "warning" and "GPU 1 cannot be read (GPU is lost)" in lost["message"]
    assert findings["job"] == [{"check": "job", "level": "ok", "message": "no jobs yet", "fix": None}]

    edited = home.root / "unit" / "gpuagent@.service"
    edited.write_text(SERVICE_TEMPLATE.text().replace("TimeoutStopSec", "#TimeoutStopSec"))
    for unit in SHIPPED_UNITS[1:]:
        (home.root / "unit" / unit.name).write_text(unit.text() + "# edited\n")
    gpu_host.state_file.unlink()
    _, findings = doctor(home)
    for finding, unit in zip(findings["template-unit"], SHIPPED_UNITS, strict=True):
        assert finding["level"] == "warning" and "add and sync keep it" in finding["message"]
        assert f"systemctl edit {unit.name}" in finding["message"]
        assert finding["fix"] == f"install -m 0644 {unit.source} {home.root / 'unit' / unit.name} && systemctl daemon-reload"
    assert levels(findings["nvidia-driver"]) == ["warning"], "no GPU job, so no driver only warns"


def test_docker_unreachable_is_an_error_with_its_fix(tmp_path):
    home = AgentHome(tmp_path / "agent", extra_env={"DOCKER_HOST": "unix:///nonexistent.sock"})

    status, findings = doctor(home)

    assert status == 1
    [docker] = findings["docker"]
    assert (docker["level"], docker["fix"]) == ("error", "systemctl start docker")
    assert "docker-gpu" not in findings


def test_the_text_report_marks_each_finding(tmp_path):
    home = AgentHome(tmp_path / "agent", extra_env={"DOCKER_HOST": "unix:///nonexistent.sock"})

    result = home.run("doctor")

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["check", "finding", "fix"]
    assert any(line.split()[:2] == ["error", "docker"] and line.endswith("  systemctl start docker") for line in lines)
    assert lines[-1].endswith("problem(s) stop runs")


def test_run_records_set_aside_from_the_spool_are_a_warning_naming_the_file(tmp_path):
    home = AgentHome(tmp_path / "agent")
    rejected = home.root / "state" / "unrecorded.rejected.jsonl"
    rejected.write_text('{"run_id": "cut sh\n{"run_id": "x", "unknown": 1}\n')

    _, findings = doctor(home)

    [finding] = findings["history"]
    assert finding["level"] == "warning"
    assert finding["message"].startswith(f"{rejected} holds 2 run record(s) that could not be added to history")
    assert finding["fix"] == f"read them (one JSON record a line), then delete the file: rm {rejected}"
