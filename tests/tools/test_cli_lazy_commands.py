"""What a command imports, seen in a fresh interpreter: `--help` none of the command
modules (their summaries are in cli/app.py's COMMANDS), and a command only its own."""

import ast
import subprocess
import sys

PROBE = (
    "import sys\n"
    "from gpuagent.cli.app import app\n"
    "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('LOADED', sorted(m for m in sys.modules if m.startswith(('gpuagent.cli.', 'gpuagent.commands.', 'gpuagent.jobs.settings'))))\n"
)


def loaded(*args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
    [line] = [line for line in result.stdout.splitlines() if line.startswith("LOADED")]
    return ast.literal_eval(line.removeprefix("LOADED "))


def test_help_imports_no_command_module_and_not_the_settings_table():
    assert loaded("--help") == ["gpuagent.cli.app"]


def test_a_command_imports_its_own_module_only():
    modules = loaded("status", "--help")
    assert "gpuagent.cli.view_commands" in modules
    assert not [m for m in modules if m.startswith("gpuagent.cli.") and m.endswith("_commands") and m != "gpuagent.cli.view_commands"]
