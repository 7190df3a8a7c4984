"""Generated timers against golden files. (systemd-analyze verify checks them with the units
gpuagent ships in tests/tools/test_units_verify.py.)"""

import re
from pathlib import Path

import pytest

from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.jobs.units import FAILURE_HANDLER, SERVICE_TEMPLATE, SHIPPED_UNITS, timer_unit

GOLDEN = Path(__file__).parent / "golden"
JOB_FILE = Path("/etc/gpuagent/jobs/nightly.toml")

CASES = {
    "daily.timer": (dict(at="02:00"), {}),
    "weekdays-cron.timer": (dict(cron="30 2 1 * mon-fri"), dict(persistent=False, random_delay="10m")),
    "every.timer": (dict(every="6h"), {}),
}


def render(name: str) -> str:
    schedule_args, options = CASES[name]
    job = job_from_options("nightly", parse_schedule(**schedule_args), dict(image="img", command=["true"], **options))
    return timer_unit(job, JOB_FILE).render()


@pytest.mark.parametrize("name", sorted(CASES))
def test_timer_matches_golden_file(name):
    assert render(name) == (GOLDEN / name).read_text()


def test_shipped_template_runs_and_reaps_the_instance():
    text = SERVICE_TEMPLATE.text()
    assert "ExecStart=gpuagent run %i\n" in text
    assert "ExecStopPost=gpuagent reap %i\n" in text
    assert "RemainAfterExit" not in text


def test_the_template_hands_its_failures_to_the_shipped_handler_of_the_same_job():
    assert f"OnFailure={FAILURE_HANDLER.name.replace('@', '@%i')}\n" in SERVICE_TEMPLATE.text()
    text = FAILURE_HANDLER.text()
    assert "ExecStart=gpuagent on-failure %i\n" in text and "Type=oneshot\n" in text
    assert not re.search(r"^On(Failure|Success)=", text, re.M), "a handler's own failure must not start a handler"


def test_the_shipped_units_are_the_packages_data_and_units_links_to_each():
    repo = Path(__file__).resolve().parents[2]
    shipped = sorted(unit.name for unit in SHIPPED_UNITS)
    assert sorted(path.name for path in (repo / "gpuagent/data").glob("*.*")) == shipped, "build-deb.sh installs every one"
    assert sorted(path.name for path in (repo / "units").iterdir()) == shipped
    for unit in SHIPPED_UNITS:
        assert (repo / "units" / unit.name).resolve() == unit.source.resolve()


def test_the_dispatch_timer_starts_the_dispatchers_timer_instance():
    from gpuagent.host.systemd import TIMER_TRIGGER, dispatch_unit_name
    from gpuagent.jobs.units import QUEUE_TIMER

    assert f"\nUnit={dispatch_unit_name(TIMER_TRIGGER)}\n" in QUEUE_TIMER.text()
