"""`gpuagent on-failure`, the handler the template's OnFailure= starts, as the command line
hands it what systemd says: the failed invocation's id, and whether the agent ended by
itself (then there is nothing to reap). The reap and the notification are stood in for
here; the handler in a booted systemd is tests/systemd/test_on_failure.py."""

import pytest
from typer.testing import CliRunner

from gpuagent.cli.app import app
from gpuagent.commands import on_failure
from gpuagent.observe import announce as notify

MONITOR = ("MONITOR_SERVICE_RESULT", "MONITOR_EXIT_CODE", "MONITOR_EXIT_STATUS", "MONITOR_INVOCATION_ID", "MONITOR_UNIT")


@pytest.fixture
def calls(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setenv("GPUAGENT_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(on_failure, "reap_job", lambda paths, name, log: calls.append(("reap", name)) or ["gpuagent-doomed-1"])
    # raising=False: the stand-in needs no real announce_lost to replace
    monkeypatch.setattr(
        notify, "announce_lost", lambda paths, name, invocation_id, log: calls.append(("lost", name, invocation_id)) or 1, raising=False
    )
    return calls


def handler(**monitor: str):
    env = {name: None for name in MONITOR} | {f"MONITOR_{key.upper()}": value for key, value in monitor.items()}
    return CliRunner().invoke(app, ["on-failure", "doomed"], env=env)


def test_a_killed_agent_is_reaped_then_its_invocation_announced_lost(calls):
    result = handler(service_result="signal", exit_code="killed", exit_status="KILL", invocation_id="0123abcd", unit="gpuagent@doomed.service")

    assert result.exit_code == 0, result.output
    assert calls == [("reap", "doomed"), ("lost", "doomed", "0123abcd")], "the reap first: it marks the run lost"
    assert result.output.splitlines() == [
        "reaped gpuagent-doomed-1",
        "gpuagent@doomed.service failed (signal, invocation 0123abcd): 1 lost run(s) notified",
    ]


def test_an_agent_that_exited_by_itself_left_nothing_to_reap_and_still_asks(calls):
    result = handler(service_result="exit-code", exit_code="exited", exit_status="1", invocation_id="4567ef")

    assert result.exit_code == 0, result.output
    assert calls == [("lost", "doomed", "4567ef")], "announce_lost decides that a run which recorded its end gets nothing more"


def test_every_monitor_variable_unset_reaps_and_asks_for_no_invocation_in_particular(calls):
    result = handler()

    assert result.exit_code == 0, result.output
    assert calls == [("reap", "doomed"), ("lost", "doomed", None)]
    assert "failed (result unknown, invocation unknown)" in result.output


def test_the_command_is_hidden_from_help():
    assert "on-failure" not in CliRunner().invoke(app, ["--help"]).output
