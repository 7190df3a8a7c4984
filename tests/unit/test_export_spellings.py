"""`gpuagent export` in-process (Typer's CliRunner): one subcommand per engine, each with
only its own options, and check; the spelling before them (`export JOB --to ENGINE`,
`export --check FILE`) still works, with a one-line note of the new one on stderr.
tests/tools/test_export_command.py runs it as a process, as people do."""

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from tests.support.agent import AgentHome

IMAGE = "gpuagent-test/busybox:latest"


@pytest.fixture
def home(tmp_path):
    home = AgentHome(tmp_path / "home")
    home.write_job("nightly", IMAGE, ["sh", "-c", "echo hi"], gpus=1, memory="1g", timeout="1h")
    home.write_job("hourly", IMAGE, ["true"], schedule={"cron": "0 * * * *"})
    return home


def export(home: AgentHome, *args: str):
    return CliRunner().invoke(app, ["--system", "export", *args], env=home.env)


def note(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("note:")]


def test_the_new_and_the_old_spelling_export_the_same_bytes(home):
    new = export(home, "kubernetes", "nightly")
    old = export(home, "nightly", "--to", "kubernetes")
    assert new.exit_code == old.exit_code == 0, old.output
    assert new.stdout == old.stdout and "kind: CronJob" in new.stdout
    assert note(new) == []
    assert note(old) == ["note: this is now spelled `gpuagent export kubernetes nightly`"]
    assert "approximately: container.user" in old.stderr


def test_the_old_spelling_keeps_every_option_where_it_was(home, tmp_path):
    out = tmp_path / "slurm"
    old = export(home, "--all", "--to=slurm", "--scrontab", "-o", str(out))
    assert old.exit_code == 0, old.output
    assert note(old) == [f"note: this is now spelled `gpuagent export slurm --all --scrontab -o {out}`"]
    assert sorted(path.name for path in out.iterdir()) == ["hourly.sbatch", "hourly.scrontab", "nightly.sbatch", "nightly.scrontab"]


def test_several_jobs_go_one_file_each_into_the_directory(home, tmp_path):
    out = tmp_path / "k8s"
    result = export(home, "kubernetes", "nightly", "hourly", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == ["hourly.yaml", "nightly.yaml"]


def test_check_takes_several_files_and_the_old_spelling_one(home, tmp_path):
    manifest, script = tmp_path / "nightly.yaml", tmp_path / "hourly.sbatch"
    assert export(home, "kubernetes", "nightly", "-o", str(manifest)).exit_code == 0
    assert export(home, "slurm", "hourly", "-o", str(script)).exit_code == 0
    both = export(home, "check", str(manifest), str(script))
    assert (both.exit_code, both.stdout) == (0, f"{manifest} matches job nightly\n{script} matches job hourly\n")
    old = export(home, "--check", str(manifest))
    assert (old.exit_code, old.stdout) == (0, f"{manifest} matches job nightly\n")
    assert note(old) == [f"note: this is now spelled `gpuagent export check {manifest}`"]

    home.write_job("hourly", IMAGE, ["false"], schedule={"cron": "0 * * * *"})
    drifted = export(home, "check", str(manifest), str(script))
    assert drifted.exit_code == 1 and drifted.stdout.startswith(f"{manifest} matches job nightly\n")
    assert f"{script} no longer matches job hourly" in drifted.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # an engine's options are its own: the other's are not there to misuse
        (["kubernetes", "nightly", "--runtime", "docker"], "No such option: --runtime"),
        (["slurm", "nightly", "--with-secret"], "No such option: --with-secret"),
        (["check", "x.sbatch", "--to", "slurm"], "No such option: --to"),
        (["check"], "Missing argument"),
        (["slurm"], "give one job, or several, or --all"),
        (["slurm", "nightly", "--all", "-o", "x"], "give a job or --all, not both"),
        (["slurm", "nightly", "hourly"], "several jobs are written one file per job: give the directory"),
        (["slurm", "nightly", "--runtime", "podman"], "--runtime: 'podman' is not one of pyxis, docker"),
        (["slurm", "nightly", "--scrontab"], "--scrontab: the entry runs the script by its path: give it"),
        (["slurm", "--all"], "--all writes one file per job: give the directory"),
        (["kubernetes", "nobody"], "no job named 'nobody'"),
        (["nomad", "nightly"], "export nomad: name the engine first"),
        # the old spelling
        (["nightly"], "export nightly: name the engine first"),
        (["nightly", "--to", "nomad"], "--to: 'nomad' is not one of slurm, kubernetes"),
        (["nightly", "--to", "kubernetes", "--runtime", "docker"], "No such option: --runtime"),
        (["nightly", "--to", "slurm", "--check", "x.sbatch"], "No such option: --to"),
    ],
)
def test_bad_usage_is_refused_with_what_to_fix(home, args, message):
    result = export(home, *args)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == "", result.output
