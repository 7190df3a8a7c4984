"""`-o` of `report` and `export`, as people run them: a file is written only where a
regular file is or nothing is yet; anything else (a FIFO, a device node, a socket, a
directory where a file goes, a link) is refused with one line of error, exit 2 and
nothing written, and a path the kernel will not take (/proc, /sys) is one line too."""

import os
import stat
from pathlib import Path

import pytest

from tests.support.special_files import make_special
from tests.unit import test_export_spellings
from tests.unit.test_report_page import realistic_runs, record

home = test_export_spellings.home

# each command that writes a file the user names, by how it is run with -o TARGET
COMMANDS = {
    "report": ["report", "--since", "30d", "-o"],
    "export-slurm": ["export", "slurm", "nightly", "-o"],
    "export-kubernetes": ["export", "kubernetes", "nightly", "-o"],
    "export-old-spelling": ["export", "nightly", "--to", "slurm", "-o"],
}


def make(kind: str, tmp_path: Path) -> Path:
    """Something at a path that is not a regular file."""
    path = tmp_path / "target"
    if kind == "symlink":
        (tmp_path / "real").write_text("kept\n")
        path.symlink_to(tmp_path / "real")
        return path
    return make_special(path, kind)


def refused(result, target: Path) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    said = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert len(errors) == 1 and len(said) <= 2, result.stderr  # the error, and a hint
    assert result.stdout == ""
    return errors[0]


def leftovers(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


@pytest.fixture
def with_history(home):
    record(home.root / "state" / "history.db", *realistic_runs("nightly", 3, 1.7e9))
    return home


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("kind", ["fifo", "socket", "directory", "symlink", "dangling-symlink"])
def test_only_a_regular_file_or_a_new_path_is_written(with_history, tmp_path, command, kind):
    target = make(kind, tmp_path)
    before = os.lstat(target)
    line = refused(with_history.run(*command, str(target)), target)
    assert str(target) in line
    after = os.lstat(target)
    assert (stat.S_IFMT(after.st_mode), after.st_ino) == (stat.S_IFMT(before.st_mode), before.st_ino)  # the same thing is there
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_regular_file_is_replaced_and_a_new_path_made(with_history, tmp_path, command):
    existing, new = tmp_path / "existing", tmp_path / "new"
    existing.write_text("old\n")
    for target in (existing, new):
        result = with_history.run(*command, str(target))
        assert result.returncode == 0, result.stderr
        assert stat.S_ISREG(os.lstat(target).st_mode) and target.read_text() != "old\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="a device node is made, and /dev/null replaced, only by root: the point is that root does not")
@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_dev_null_stays_a_character_device(with_history, tmp_path, command):
    # a null device of the test's own first: where the rule is broken, it is the one replaced
    own = tmp_path / "null"
    os.mknod(own, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    refused(with_history.run(*command, str(own)), own)
    assert stat.S_ISCHR(os.lstat(own).st_mode)
    before = os.stat("/dev/null")
    refused(with_history.run(*command, "/dev/null"), Path("/dev/null"))
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino and after.st_rdev == before.st_rdev


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("target", ["/proc/version", "/proc/self/new-file", "/sys/kernel/new-file", "/sys/kernel/notes"])
def test_the_kernels_files_are_one_line_of_error(with_history, command, target):
    refused(with_history.run(*command, target), Path(target))


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_path_under_a_regular_file_is_one_line_of_error(with_history, tmp_path, command):
    (tmp_path / "file").write_text("x\n")
    refused(with_history.run(*command, str(tmp_path / "file" / "out")), tmp_path / "file" / "out")
    assert (tmp_path / "file").read_text() == "x\n"


def test_the_scrontab_entry_beside_the_script_follows_the_rule_and_nothing_is_written(home, tmp_path):
    out = tmp_path / "exported"
    out.mkdir()
    os.mkfifo(out / "nightly.scrontab")
    refused(home.run("export", "slurm", "nightly", "--scrontab", "-o", str(out / "nightly.sbatch")), out)
    assert sorted(os.listdir(out)) == ["nightly.scrontab"]  # not the script either
    assert stat.S_ISFIFO(os.lstat(out / "nightly.scrontab").st_mode)


def test_all_into_a_directory_checks_every_file_before_writing_any(home, tmp_path):
    out = tmp_path / "exported"
    out.mkdir()
    os.mkfifo(out / "nightly.sbatch")
    line = refused(home.run("export", "slurm", "--all", "-o", str(out)), out)
    assert "nightly.sbatch is a FIFO" in line
    assert sorted(os.listdir(out)) == ["nightly.sbatch"]  # hourly.sbatch was not written either


def test_check_reads_only_a_regular_file(home, tmp_path):
    os.mkfifo(tmp_path / "fifo.sbatch")
    refused(home.run("export", "check", str(tmp_path / "fifo.sbatch")), tmp_path)
    refused(home.run("export", "check", "/dev/zero"), tmp_path)


@pytest.mark.parametrize("engine", ["slurm", "kubernetes"])
@pytest.mark.parametrize("name", ["x\n#SCRON --uid=0\n* * * * * /bin/sh evil.sbatch", "x\rcarriage.sbatch", "tab\t.sbatch"])
def test_a_path_with_a_control_character_is_refused_at_the_input(home, tmp_path, engine, name):
    out = tmp_path / "exported"
    out.mkdir()
    extra = ["--scrontab"] if engine == "slurm" else []
    line = refused(home.run("export", engine, "nightly", *extra, "-o", str(out / name)), out)
    assert "control character" in line
    assert os.listdir(out) == []
