"""gpuagent.toml's [queue] (host/hostconfig.py): its defaults, the values it takes, and
every bad value refused with one line naming the key."""

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import ENV_OVERRIDES, Paths, resolve_paths
from gpuagent.host.hostconfig import read_host_config


@pytest.fixture
def paths(tmp_path) -> Paths:
    chosen = resolve_paths(user_mode=False, env={var: str(tmp_path / key) for key, var in ENV_OVERRIDES.items()})
    chosen.config_dir.mkdir(parents=True)
    return chosen


def configured(paths: Paths, text: str):
    paths.host_config.write_text(text)
    return read_host_config(paths)


def test_without_a_file_the_bound_is_30_minutes_and_there_is_no_cap(paths):
    config = read_host_config(paths)
    assert (config.starvation_bound, config.max_gpus_per_submitter) == (30 * 60, None)


def test_an_empty_queue_section_keeps_the_defaults(paths):
    config = configured(paths, "[queue]\n")
    assert (config.starvation_bound, config.max_gpus_per_submitter) == (30 * 60, None)


@pytest.mark.parametrize(
    ("text", "bound", "cap"),
    [
        ('starvation_bound = "10m"', 600, None),
        ('starvation_bound = "1h30m"', 5400, None),
        ('starvation_bound = "90"', 90, None),
        ('starvation_bound = "7d"', 7 * 86400, None),
        ("max_gpus_per_submitter = 1", 30 * 60, 1),
        ('max_gpus_per_submitter = 4\nstarvation_bound = "2h"', 7200, 4),
    ],
)
def test_valid_values_are_read(paths, text, bound, cap):
    config = configured(paths, f"[queue]\n{text}\n")
    assert (config.starvation_bound, config.max_gpus_per_submitter) == (bound, cap)


BAD = {
    "bound not a duration": ('starvation_bound = "soon"', "queue.starvation_bound"),
    "bound empty": ('starvation_bound = ""', "queue.starvation_bound"),
    "bound zero": ('starvation_bound = "0"', "queue.starvation_bound"),
    "bound with a newline": ('starvation_bound = "30m\\n"', "queue.starvation_bound"),
    "bound a number": ("starvation_bound = 1800", "queue.starvation_bound"),
    "bound a boolean": ("starvation_bound = true", "queue.starvation_bound"),
    "bound too long": ('starvation_bound = "8d"', "queue.starvation_bound"),
    "cap 0": ("max_gpus_per_submitter = 0", "queue.max_gpus_per_submitter"),
    "cap negative": ("max_gpus_per_submitter = -1", "queue.max_gpus_per_submitter"),
    "cap true": ("max_gpus_per_submitter = true", "queue.max_gpus_per_submitter"),
    "cap 1.5": ("max_gpus_per_submitter = 1.5", "queue.max_gpus_per_submitter"),
    "cap a string": ('max_gpus_per_submitter = "4"', "queue.max_gpus_per_submitter"),
    "cap huge": ("max_gpus_per_submitter = 100000", "queue.max_gpus_per_submitter"),
    "unknown key": ("max_gpus = 4", "queue.max_gpus"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_value_is_refused_in_one_line_naming_the_key(paths, case):
    text, key = BAD[case]
    with pytest.raises(InvalidInput) as refused:
        configured(paths, f"[queue]\n{text}\n")
    assert key in refused.value.message, refused.value.message
    assert str(paths.host_config) in refused.value.message
    assert "\n" not in refused.value.message
    assert refused.value.hint


def test_queue_that_is_not_a_table_is_refused(paths):
    with pytest.raises(InvalidInput, match="queue must be a table"):
        configured(paths, "queue = 4\n")


def test_gpuagent_queue_refuses_a_bad_config_with_one_line_and_exit_2(paths, monkeypatch):
    for key, var in ENV_OVERRIDES.items():
        monkeypatch.setenv(var, str(getattr(paths, key)))
    paths.host_config.write_text('[queue]\nstarvation_bound = "soon"\n')
    result = CliRunner().invoke(app, ["--system", "queue"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("hint:")]
    assert len(errors) == 1 and "queue.starvation_bound" in errors[0], result.stderr
