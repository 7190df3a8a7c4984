"""doctor's monitoring checks: finding programs and their flags in a /proc tree written
for the test, and what doctor concludes from them for a scratch config directory."""

from gpuagent.commands import doctor
from gpuagent.core.paths import resolve_paths
from gpuagent.host.procs import command_lines, environment, flag_value
from tests.support.agent import AgentHome


def fake_process(proc, pid: int, *argv: str, env: dict[str, str] | None = None) -> None:
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cmdline").write_bytes(b"\0".join(word.encode() for word in argv) + b"\0")
    (proc / str(pid) / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in (env or {}).items()))


def test_programs_are_found_by_name_with_their_flags(tmp_path):
    fake_process(tmp_path, 10, "/usr/bin/prometheus-node-exporter", "--collector.textfile.directory", "/var/lib/x")
    fake_process(tmp_path, 11, "node_exporter", "--collector.textfile.directory=/srv/a", "--collector.textfile.directory=/srv/b")
    fake_process(tmp_path, 12, "/bin/sleep", "prometheus-node-exporter")
    (tmp_path / "self").mkdir()
    found = command_lines(("prometheus-node-exporter", "node_exporter"), tmp_path)
    assert sorted(found) == [10, 11]
    assert flag_value(found[10], "--collector.textfile.directory") == "/var/lib/x"
    assert flag_value(found[11], "--collector.textfile.directory") == "/srv/b", "the last one wins"
    assert flag_value(found[10], "--web.listen-address") is None


def test_an_environment_is_read_and_an_unreadable_one_is_empty(tmp_path):
    fake_process(tmp_path, 20, "dcgm-exporter", env={"DCGM_HPC_JOB_MAPPING_DIR": "/run/gpuagent/hpc-jobs", "A": "b=c"})
    assert environment(20, tmp_path) == {"DCGM_HPC_JOB_MAPPING_DIR": "/run/gpuagent/hpc-jobs", "A": "b=c"}
    assert environment(21, tmp_path) == {}


def findings(home: AgentHome, monkeypatch, processes: dict[tuple[str, ...], dict[int, list[str]]]) -> list:
    monkeypatch.setattr("gpuagent.host.procs.command_lines", lambda programs: processes.get(tuple(programs), {}))
    monkeypatch.setattr("gpuagent.host.procs.environment", lambda pid: {})
    return doctor._monitoring(resolve_paths(user_mode=False, env=home.env))


def test_doctor_says_whether_node_exporter_reads_gpuagents_directory(tmp_path, monkeypatch):
    home = AgentHome(tmp_path / "agent")
    textfiles = tmp_path / "textfiles"
    (home.root / "config" / "gpuagent.toml").write_text(f'[metrics]\ntextfile_dir = "{textfiles}"\n')
    nodes = doctor.NODE_EXPORTERS
    [none] = findings(home, monkeypatch, {})
    assert (none.level, none.message) == ("warning", f"metrics go to {textfiles}, but no node_exporter runs to serve them")
    [right] = findings(home, monkeypatch, {nodes: {7: ["node_exporter", f"--collector.textfile.directory={textfiles}"]}})
    assert (right.level, right.message) == ("ok", f"node_exporter (pid 7) reads gpuagent's metrics in {textfiles}")
    [wrong] = findings(home, monkeypatch, {nodes: {7: ["node_exporter"]}})
    assert wrong.level == "warning" and "has no --collector.textfile.directory" in wrong.message and f"={textfiles}" in wrong.fix


def test_doctor_says_whether_dcgm_exporter_reads_the_job_mapping(tmp_path, monkeypatch):
    home = AgentHome(tmp_path / "agent")
    (home.root / "config" / "gpuagent.toml").write_text(f'[metrics]\ntextfile_dir = "{tmp_path}"\n')
    mapping = home.root / "runtime" / "hpc-jobs"
    dcgm = doctor.DCGM_EXPORTERS
    found = findings(home, monkeypatch, {dcgm: {9: ["dcgm-exporter", "--hpc-job-mapping-dir", str(mapping)]}})
    assert [(f.check, f.level) for f in found if f.check == "dcgm"] == [("dcgm", "ok")]
    [unmapped] = [f for f in findings(home, monkeypatch, {dcgm: {9: ["dcgm-exporter"]}}) if f.check == "dcgm"]
    assert unmapped.level == "warning" and unmapped.fix == f"start it with --hpc-job-mapping-dir {mapping}"


def test_a_broken_host_config_is_a_warning_with_its_fix(tmp_path, monkeypatch):
    home = AgentHome(tmp_path / "agent")
    (home.root / "config" / "gpuagent.toml").write_text("[metric]\n")
    [finding] = findings(home, monkeypatch, {})
    assert finding.check == "host-config" and finding.level == "warning" and "unknown section [metric]" in finding.message
