"""Reading `systemctl show` (as systemd 252 prints it with TZ=UTC), without a systemd:
the e2e tests check the same fields against a booted one."""

from datetime import UTC, datetime

import pytest

from gpuagent.core.errors import SystemdError
from gpuagent.host.systemd import TimerState, parse_show, timer_state

# systemctl show -p LoadState,UnitFileState,NextElapseUSecRealtime,NextElapseUSecMonotonic,LastTriggerUSec
# for a calendar timer, an --every timer and a unit that does not exist
SHOW = """\
NextElapseUSecRealtime=Fri 2026-11-27 04:03:15 UTC
NextElapseUSecMonotonic=0
LastTriggerUSec=Fri 2026-11-27 04:03:10 UTC
LoadState=loaded
UnitFileState=enabled

NextElapseUSecRealtime=
NextElapseUSecMonotonic=1h 23min 26.729893s
LastTriggerUSec=
LoadState=loaded
UnitFileState=enabled

NextElapseUSecRealtime=
NextElapseUSecMonotonic=infinity
LastTriggerUSec=
LoadState=not-found
UnitFileState=
"""
NOW = datetime(2026, 11, 27, 4, 3, 12, tzinfo=UTC).timestamp()
NOW_MONOTONIC = 1412.0  # seconds since boot when `systemctl show` ran


def states() -> list[TimerState]:
    return [timer_state(values, NOW, NOW_MONOTONIC) for values in parse_show(SHOW, 3)]


def test_a_calendar_timer():
    assert states()[0] == TimerState(
        loaded=True,
        enabled=True,
        next_elapse=datetime(2026, 11, 27, 4, 3, 15, tzinfo=UTC),
        last_trigger=datetime(2026, 11, 27, 4, 3, 10, tzinfo=UTC),
    )


def test_a_monotonic_elapse_becomes_wall_time_from_now():
    due_in = 1 * 3600 + 23 * 60 + 26.729893 - NOW_MONOTONIC
    timer = states()[1]
    assert timer.next_elapse.timestamp() == pytest.approx(NOW + due_in)
    assert (timer.loaded, timer.enabled, timer.last_trigger) == (True, True, None)


def test_a_missing_unit():
    assert states()[2] == TimerState(loaded=False, enabled=False, next_elapse=None, last_trigger=None)


def test_a_disabled_timer_has_no_next_elapse():
    values = {
        "LoadState": "loaded",
        "UnitFileState": "disabled",
        "NextElapseUSecRealtime": "",
        "NextElapseUSecMonotonic": "0",
        "LastTriggerUSec": "n/a",
    }
    assert timer_state(values, NOW, NOW_MONOTONIC) == TimerState(True, False, None, None)


def test_an_answer_for_the_wrong_number_of_units_is_an_error():
    with pytest.raises(SystemdError):
        parse_show(SHOW, 2)
