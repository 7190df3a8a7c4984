import pytest
import typer
from typer.testing import CliRunner

from gpuagent.cli.app import COMMANDS, app


def every_command():
    """Each command of the tree, subcommands too, as (words to reach it, click command)."""
    root = typer.main.get_command(app)
    ctx = root.make_context("gpuagent", ["--help"], resilient_parsing=True)
    pending = [((), root)]
    while pending:
        path, command = pending.pop(0)
        yield path, command
        for name in getattr(command, "list_commands", lambda ctx: [])(ctx):
            pending.append(((*path, name), command.get_command(ctx, name)))


PATHS = [" ".join(path) for path, _ in every_command() if path]


def test_every_command_has_help_text():
    for path, command in every_command():
        assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
        for param in command.params:
            if param.name != "help":
                assert getattr(param, "help", None), f"{' '.join(path)}: {param.name} has no help text"


def test_the_listing_says_how_each_command_s_own_help_begins():
    """`gpuagent --help` lists COMMANDS' summaries without importing the commands: each
    must be where that command's help starts, and a hidden command is listed nowhere."""
    root = typer.main.get_command(app)
    ctx = root.make_context("gpuagent", ["--help"], resilient_parsing=True)
    assert root.list_commands(ctx) == list(COMMANDS)
    for name, entry in COMMANDS.items():
        command = root.get_command(ctx, name)
        assert command.hidden == (entry.summary is None), name
        if entry.summary:
            assert " ".join(command.help.split()).startswith(entry.summary), name
    listing = CliRunner().invoke(app, ["--help"]).output
    assert [name for name in COMMANDS if f"\n  {name} " in listing] == [name for name, entry in COMMANDS.items() if entry.summary]


@pytest.mark.parametrize("command", PATHS)
def test_help_of_each_command(command):
    result = CliRunner().invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
