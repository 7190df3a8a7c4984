"""The words of an exported Slurm script as bash reads them: a job whose command, env
values and paths hold newlines, quotes, `$(...)` and backslashes runs with exactly those
words (a stand-in srun or docker on PATH prints what it was given), so no value leaves its
place in the script. The shape of the files is tests/unit/test_export_escaping.py's."""

import os
import subprocess

import pytest

from gpuagent.export.exporter import SCRIPT, ExportOptions
from tests.unit.test_export import export, job
from tests.unit.test_export_escaping import HOSTILE

STAND_IN = """#!/bin/bash
case "$1" in run | --container-image=*) ;; *) [ "$(basename "$0")" = docker ] && exit 0 ;; esac
printf '%s\\0' "$@" >"$WORDS"
printf '%s\\0' "${VALUE-unset}" >>"$WORDS"
"""


@pytest.mark.parametrize("runtime", ["pyxis", "docker"])
def test_bash_reads_back_each_word_as_the_job_has_it(tmp_path, runtime):
    printable = [value for value in HOSTILE if value.isprintable()]
    command = ("sh", "-c", *HOSTILE)
    the_job = job(
        command=command,
        env=["VALUE=" + "".join(value for value in HOSTILE if "\n" not in value and "\r" not in value)],
        workdir="/work/" + printable[0],
        volumes=[f"/srv/{printable[1]}:/data"],
        user="1000",
    )
    script = export(the_job, ExportOptions("slurm", runtime=runtime)).files[SCRIPT]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("srun", "docker"):
        (bin_dir / name).write_text(STAND_IN)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "job.sbatch").write_text(script)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "WORDS": str(tmp_path / "words"), "SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": ""}
    result = subprocess.run(["bash", str(tmp_path / "job.sbatch")], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    words = (tmp_path / "words").read_bytes().decode().split("\0")[:-1]
    assert tuple(words[-1 - len(command) : -1]) == command
    assert words[-1] == the_job.env[0][1]
    joined = " ".join(words)
    assert f"/work/{printable[0]}" in joined and f"/srv/{printable[1]}:/data" in joined
