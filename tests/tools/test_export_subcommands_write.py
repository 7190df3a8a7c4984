"""`gpuagent export` in-process where systemd-analyze reads the jobs' schedules: both
spellings write the same bytes, several jobs, check, and a runtime refused once the job is
read. tests/unit/test_export_spellings.py holds the usage errors found before that."""

import pytest

from tests.unit import test_export_spellings
from tests.unit.test_export_spellings import IMAGE, check_refused, export

# fixtures the in-process half of these tests takes too
home = test_export_spellings.home


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


# found only once the job is read, and with it its schedule
@pytest.mark.parametrize(("args", "message"), [(["slurm", "nightly", "--runtime", "podman"], "--runtime: 'podman' is not one of pyxis, docker")])
def test_bad_usage_is_refused_with_what_to_fix(home, args, message):
    check_refused(home, args, message)
