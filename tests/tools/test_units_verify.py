"""The shipped units and a job's timer through `systemd-analyze verify`."""

import re
import shutil
import subprocess

import pytest

from gpuagent.jobs.units import SHIPPED_UNITS
from tests.unit.test_units import CASES, render


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_systemd_accepts_the_timer_and_the_units_it_pulls_in(name, tmp_path):
    for unit in SHIPPED_UNITS:  # as shipped, but running a command this host has
        (tmp_path / unit.name).write_text(re.sub(r"^(Exec\w+)=gpuagent ", r"\1=/bin/true ", unit.text(), flags=re.M))
    timer = tmp_path / "gpuagent@nightly.timer"
    timer.write_text(render(name))
    # The handler is loaded only through the service's OnFailure=: verify it by name too.
    units = [str(timer), str(tmp_path / "gpuagent-on-failure@nightly.service")]
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True)
    # verify exits 0 on unknown keys and bad values, only warning: read what it says
    complaints = [line for line in result.stderr.splitlines() if "gpuagent" in line]
    assert result.returncode == 0 and complaints == [], result.stderr
