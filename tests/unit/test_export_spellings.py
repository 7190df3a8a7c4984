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
    check_refused(home, args, message)


def check_refused(home: AgentHome, args: list[str], message: str) -> None:
    """Exit 2, `message` on stderr, nothing on stdout."""
    result = export(home, *args)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == "", result.output
