import subprocess
import sys

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


def test_help_imports_neither_docker_nor_pynvml():
    probe = (
        "import sys\n"
        "from gpuagent.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'pynvml', 'requests'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "HEAVY []" in result.stderr, result.stderr
    assert "Commands" in result.stdout
