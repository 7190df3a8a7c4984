"""Every count, duration and size a job file holds has bounds, checked as the file is read
(by sync, by each run), not later: found row by row from the settings table, so a setting
added without bounds fails here. The command line's side is
tests/unit/test_cli_rejects_bad_input.py."""

import tomllib
from pathlib import Path

import pytest
import tomli_w

from gpuagent.core.errors import InvalidInput
from gpuagent.jobs.job import job_from_options
from gpuagent.jobs.jobfile import job_from_toml, job_to_toml
from gpuagent.jobs.schedule import parse_schedule
from gpuagent.jobs.settings import INTEGER, SETTINGS, STRING

SOURCE = Path("/etc/gpuagent/jobs/nightly.toml")
TOML_LARGEST = 2**63 - 1  # TOML's integers are 64-bit: a larger one is not TOML
# past every bound: 12 digits of weeks, sizes of 99999999999999 TiB
ABSURD_DURATION = "999999999999w"
ABSURD_SIZE = "99999999999999T"


def _reads(setting, text: str, expected) -> bool:
    try:
        return setting.read(text, setting.option) == expected
    except (InvalidInput, ValueError, TypeError):
        return False


def absurd_values() -> dict[str, tuple[str, str, object]]:
    """(section, key, value) for each row that holds a count, a duration or a size."""
    found = {}
    for setting in SETTINGS:
        if setting.kind is INTEGER:
            found[f"{setting.path} = 2**63-1"] = (setting.section, setting.key, TOML_LARGEST)
            found[f"{setting.path} = -1"] = (setting.section, setting.key, -1)
        elif setting.kind is STRING and _reads(setting, "90s", 90):
            found[f"{setting.path} = {ABSURD_DURATION}"] = (setting.section, setting.key, ABSURD_DURATION)
        elif setting.kind is STRING and _reads(setting, "1g", 1024**3):
            found[f"{setting.path} = {ABSURD_SIZE}"] = (setting.section, setting.key, ABSURD_SIZE)
    found[f"schedule.every = {ABSURD_DURATION}"] = ("schedule", "every", ABSURD_DURATION)
    return found


ABSURD = absurd_values()


def test_the_table_has_the_counts_durations_and_sizes_we_know():
    """The search above finds them: were it to find none, the test below would pass empty."""
    keys = {key for _, key, _ in ABSURD.values()}
    assert {"gpus", "priority", "retries", "timeout", "vram_wait", "retry_delay", "stop_grace", "memory", "shm_size", "every"} <= keys


@pytest.mark.parametrize("case", ABSURD)
def test_an_absurd_count_duration_or_size_in_a_job_file_is_one_error_naming_it(case):
    section, key, value = ABSURD[case]
    job = job_from_options("nightly", parse_schedule(every="6h"), dict(image="img", command=["true"], gpus=1, retries=1))
    document = tomllib.loads(job_to_toml(job))
    if key == "every":
        document["schedule"] = {key: value}
    elif section:
        document.setdefault(section, {})[key] = value
    else:
        document[key] = value
    with pytest.raises(InvalidInput) as raised:
        job_from_toml(tomli_w.dumps(document), SOURCE)
    assert "\n" not in raised.value.message
    assert key in raised.value.message, "the error names the key"
