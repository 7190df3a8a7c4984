import pytest
import typer
from typer.testing import CliRunner

from gpuagent.cli.app import app

COMMANDS = sorted(command.name or command.callback.__name__ for command in app.registered_commands)


def test_every_command_has_help_text():
    click_group = typer.main.get_group(app)
    missing = [name for name, command in click_group.commands.items() if not (command.help or "").strip()]
    assert missing == []
    for name, command in click_group.commands.items():
        for param in command.params:
            if param.name != "help":
                assert getattr(param, "help", None), f"{name}: {param.name} has no help text"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
