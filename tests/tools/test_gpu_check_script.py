"""The GPU check an exported job runs before its command (export/gpucheck.py), run by real
shells (dash, and busybox's sh and awk as in a small image) against a stand-in nvidia-smi
that prints what the test says, as the real one prints it."""

import shutil
import subprocess
import textwrap

import pytest

from gpuagent.export.gpucheck import NO_FIT, QUERY, GpuCheck, check_script

SHELLS = [shell for shell in (["dash"], ["busybox", "sh"]) if shutil.which(shell[0])]


@pytest.fixture
def nvidia_smi(tmp_path):
    """Write the GPUs nvidia-smi reports: lines of 'index, free MiB, utilisation %'."""
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text(
        textwrap.dedent(f"""\
            #!/bin/sh
            [ "$*" = "{QUERY.removeprefix("nvidia-smi ")}" ] || {{ echo "unexpected query: $*" >&2; exit 2; }}
            cat "{tmp_path}/gpus"
            """)
    )
    tool.chmod(0o755)

    def report(*lines: str):
        (tmp_path / "gpus").write_text("".join(line + "\n" for line in lines))
        return tool.parent

    return report


def run_check(shell, bin_dir, check, gpus='""'):
    """The check, then `echo admitted`, in `shell`; busybox's sh with busybox's awk."""
    script = check_script(check, gpus) + "echo admitted\n"
    path = f"{bin_dir}:/usr/bin:/bin"
    if shell[0] == "busybox" and not (bin_dir / "awk").exists():
        (bin_dir / "awk").symlink_to(shutil.which("busybox"))
    return subprocess.run([*shell, "-c", script], capture_output=True, text=True, env={"PATH": path}, timeout=30)


@pytest.fixture(params=SHELLS, ids=lambda shell: " ".join(shell))
def shell(request):
    return request.param


def test_gpus_with_room_are_admitted(shell, nvidia_smi):
    result = run_check(shell, nvidia_smi("0, 81000, 3", "1, 40000, 10"), GpuCheck(20480, 50, "fail", 0))
    assert (result.returncode, result.stdout) == (0, "admitted\n"), result.stderr


def test_only_the_gpus_the_job_was_given_count(shell, nvidia_smi):
    bin_dir = nvidia_smi("0, 1000, 0", "1, 81000, 0")
    assert run_check(shell, bin_dir, GpuCheck(20480, None, "fail", 0), gpus="1").returncode == 0
    assert run_check(shell, bin_dir, GpuCheck(20480, None, "fail", 0), gpus="0,1").returncode == NO_FIT


@pytest.mark.parametrize(
    ("gpus", "check"),
    [
        (["0, 1000, 0"], GpuCheck(20480, None, "fail", 0)),  # too little free
        (["0, 81000, 90"], GpuCheck(None, 50, "fail", 0)),  # too busy
        (["0, [N/A], 0"], GpuCheck(20480, None, "fail", 0)),  # memory that cannot be read is refused, as with NVML
        (["0, 81000, [N/A]"], GpuCheck(None, 50, "fail", 0)),
        ([], GpuCheck(20480, None, "fail", 0)),  # no GPU at all
    ],
)
def test_gpus_that_do_not_fit_make_the_job_exit_with_its_own_code(shell, nvidia_smi, gpus, check):
    result = run_check(shell, nvidia_smi(*gpus), check)
    assert result.returncode == NO_FIT and "admitted" not in result.stdout
    assert "gpuagent: the GPUs do not have" in result.stderr


def test_skip_exits_zero_without_running_the_command(shell, nvidia_smi):
    result = run_check(shell, nvidia_smi("0, 1000, 0"), GpuCheck(20480, None, "skip", 0))
    assert (result.returncode, result.stdout) == (0, "")
    assert "gpuagent: skipped: the GPUs do not have at least 20480 MiB free" in result.stderr


def test_wait_gives_up_when_its_time_is_spent(shell, nvidia_smi):
    result = run_check(shell, nvidia_smi("0, 1000, 0"), GpuCheck(20480, None, "wait", 0))
    assert result.returncode == NO_FIT
    assert "did not have at least 20480 MiB free within 0s" in result.stderr


def test_without_nvidia_smi_nothing_is_admitted(shell, tmp_path):
    result = run_check(shell, tmp_path, GpuCheck(20480, None, "fail", 0))
    assert result.returncode == NO_FIT
