"""The package's layout is its architecture: these tests fail when an import crosses a
line the layout draws (README.md, "Layout")."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gpuagent"
# Modules that reach outside the process: only gpuagent/host/ may import them.
SIDE_EFFECT_MODULES = {"subprocess", "docker", "pynvml", "sqlite3", "requests", "fcntl", "urllib", "apprise", "socket"}
# What each part may import of gpuagent, besides its own part and the top-level modules.
ALLOWED_PARTS = {
    "model": set(),
    "host": {"model"},
    "observe": {"model", "host"},
    "run": {"model", "host", "observe"},
    "commands": {"model", "host", "observe", "run"},
    "views": {"model", "host", "observe", "run", "commands"},
}
TOP_LEVEL = {"errors", "paths", "since", "__init__"}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (imports inside functions count)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_side_effects_only_in_host(path):
    if part_of(path) == "host":
        return
    reached = {name.split(".")[0] for name in imported_modules(path)} & SIDE_EFFECT_MODULES
    assert not reached, f"{path.relative_to(PACKAGE)} imports {sorted(reached)}: move that into gpuagent/host/"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_parts_import_only_what_lies_below_them(path):
    part = part_of(path)
    if part not in ALLOWED_PARTS:
        return  # cli.py and the top-level modules
    allowed = ALLOWED_PARTS[part] | {part} | TOP_LEVEL
    crossing = sorted(
        name
        for name in imported_modules(path)
        if name.startswith("gpuagent.") and name.split(".")[1] not in allowed and name.split(".")[1] in {*ALLOWED_PARTS, "cli"}
    )
    assert not crossing, f"{path.relative_to(PACKAGE)} ({part}) imports {crossing}"


def test_commands_do_not_import_each_other():
    for path in (PACKAGE / "commands").glob("*.py"):
        others = sorted(
            name for name in imported_modules(path) if name.startswith("gpuagent.commands.") and name.split(".")[2] not in ("common", path.stem)
        )
        assert not others, f"commands/{path.name} imports {others}: shared helpers belong in commands/common.py"


def test_the_rule_catches_a_violation(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    import subprocess\n    from gpuagent.host.systemd import Systemd\n")
    assert "subprocess" in imported_modules(sample)
    assert "gpuagent.host.systemd" in imported_modules(sample)
