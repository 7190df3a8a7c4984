"""`gpuagent export` as people run it: where the files go, what is said on stderr, what
is refused with nothing written, and `check` after the job changed. Both spellings: the
engines and check as subcommands, and the one before them (`--to ENGINE`, `--check FILE`)."""

import stat

import pytest

from tests.unit import test_export_spellings
from tests.unit.test_export_spellings import IMAGE

# the two jobs the in-process half exports, there as here
home = test_export_spellings.home


def test_one_job_goes_to_stdout_and_the_approximations_to_stderr(home):
    result = home.run("export", "kubernetes", "nightly")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# gpuagent export nightly --to kubernetes\n") and "kind: CronJob" in result.stdout
    assert "approximately: container.user: gpuagent runs the image's own user" in result.stderr
    assert "note:" not in result.stderr


def test_the_old_spelling_works_with_a_note_of_the_new(home):
    result = home.run("export", "nightly", "--to", "kubernetes")
    assert result.returncode == 0, result.stderr
    assert result.stdout == home.run("export", "kubernetes", "nightly").stdout
    assert result.stderr.splitlines()[0] == "note: this is now spelled `gpuagent export kubernetes nightly`"


def test_all_writes_one_file_per_job_into_the_directory(home, tmp_path):
    out = tmp_path / "slurm"
    result = home.run("export", "--all", "--to", "slurm", "--scrontab", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in out.iterdir()) == ["hourly.sbatch", "hourly.scrontab", "nightly.sbatch", "nightly.scrontab"]
    assert stat.S_IMODE((out / "nightly.sbatch").stat().st_mode) == 0o755
    assert (out / "hourly.scrontab").read_text().splitlines()[-1] == f"0 * * * * /bin/bash {(out / 'hourly.sbatch').resolve()}"
    assert "nightly: container.timeout:" in result.stderr  # with several jobs, each note names its job


def test_one_job_that_cannot_map_leaves_no_file_of_any(home, tmp_path):
    home.write_job("follower", IMAGE, ["true"], after="nightly")
    out = tmp_path / "k8s"
    result = home.run("export", "--all", "--to", "kubernetes", "-o", str(out))
    assert result.returncode == 2
    assert "cannot export follower to Kubernetes: schedule.after: Kubernetes has no equivalent of --after (nightly)" in result.stderr
    assert "hint: drop --after" in result.stderr
    assert not out.exists()


def test_a_scrontab_entry_goes_beside_the_script(home, tmp_path):
    script = tmp_path / "jobs" / "hourly.sbatch"
    result = home.run("export", "hourly", "--to", "slurm", "--runtime", "docker", "--scrontab", "-o", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {script}", f"wrote {script.with_suffix('.scrontab')}"]


def test_the_secret_file_is_as_private_as_the_env_file(home, tmp_path):
    env_file = tmp_path / "nightly.env"
    env_file.write_text("# the token\nTOKEN=s3cret\n")
    env_file.chmod(0o600)
    home.write_job("secretive", IMAGE, ["true"], env_file=str(env_file))
    manifest = tmp_path / "secretive.yaml"
    result = home.run("export", "secretive", "--to", "kubernetes", "--with-secret", "-o", str(manifest))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    assert "TOKEN: czNjcmV0" in manifest.read_text()


def test_check_says_whether_the_file_still_matches_its_job(home, tmp_path):
    manifest = tmp_path / "nightly.yaml"
    assert home.run("export", "nightly", "--to", "kubernetes", "-o", str(manifest)).returncode == 0
    matches = home.run("export", "check", str(manifest))
    assert (matches.returncode, matches.stdout) == (0, f"{manifest} matches job nightly\n")

    home.write_job("nightly", IMAGE, ["sh", "-c", "echo hi"], gpus=1, memory="2g", timeout="1h")
    drifted = home.run("export", "--check", str(manifest))
    assert drifted.returncode == 1
    assert f"{manifest} no longer matches job nightly: `gpuagent export nightly --to kubernetes -o {manifest}` writes it again" in drifted.stdout
    assert "-                memory: 1Gi\n+                memory: 2Gi\n" in drifted.stdout


def test_check_of_a_scrontab_entry_follows_the_script_it_runs(home, tmp_path):
    script = tmp_path / "hourly.sbatch"
    assert home.run("export", "hourly", "--to", "slurm", "--scrontab", "-o", str(script)).returncode == 0
    assert home.run("export", "--check", str(script.with_suffix(".scrontab"))).returncode == 0
    home.write_job("hourly", IMAGE, ["true"], schedule={"cron": "30 * * * *"})
    drifted = home.run("export", "--check", str(script.with_suffix(".scrontab")))
    assert drifted.returncode == 1 and "+30 * * * * /bin/bash" in drifted.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nightly"], "export nightly: name the engine first"),
        (["--to", "slurm"], "give one job, or several, or --all"),
        (["nightly", "--all", "--to", "slurm", "-o", "x"], "give a job or --all, not both"),
        (["nightly", "--to", "nomad"], "--to: 'nomad' is not one of slurm, kubernetes"),
        # each engine is a subcommand with only its own options: the others' are unknown there
        (["nightly", "--to", "kubernetes", "--runtime", "docker"], "No such option: --runtime"),
        (["nightly", "--to", "slurm", "--with-secret"], "No such option: --with-secret"),
        (["nightly", "--to", "slurm", "--runtime", "podman"], "--runtime: 'podman' is not one of pyxis, docker"),
        (["nightly", "--to", "slurm", "--scrontab"], "--scrontab: the entry runs the script by its path: give it"),
        (["--all", "--to", "slurm"], "--all writes one file per job: give the directory"),
        (["nobody", "--to", "slurm"], "no job named 'nobody'"),
        (["nightly", "--to", "slurm", "--check", "x.sbatch"], "No such option: --to"),
        (["kubernetes", "nightly", "--runtime", "docker"], "No such option: --runtime"),
        (["check"], "Missing argument"),
    ],
)
def test_bad_usage_is_refused_with_what_to_fix(home, tmp_path, args, message):
    result = home.run("export", *args)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_check_refuses_a_file_export_did_not_write(home, tmp_path):
    other = tmp_path / "other.sh"
    other.write_text("#!/bin/bash\necho hi\n")
    result = home.run("export", "--check", str(other))
    assert result.returncode == 2 and "not a file `gpuagent export` wrote" in result.stderr


def test_all_with_secret_gives_a_secret_to_the_jobs_that_have_an_env_file(home, tmp_path):
    env_file = tmp_path / "secretive.env"
    env_file.write_text("TOKEN=s3cret\n")
    home.write_job("secretive", IMAGE, ["true"], env_file=str(env_file))
    out = tmp_path / "k8s"
    result = home.run("export", "--all", "--to", "kubernetes", "--with-secret", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "kind: Secret" in (out / "secretive.yaml").read_text() and "kind: Secret" not in (out / "nightly.yaml").read_text()
