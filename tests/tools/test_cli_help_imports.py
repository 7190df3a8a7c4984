"""What `--help` imports, seen in a fresh interpreter."""

import subprocess
import sys


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
