"""The package's layout is its architecture (CONTRIBUTING.md, "Layout"): each feature has
one home, side effects stay in host/, and a feature imports only the features below it.
These tests fail when an import crosses a line the layout draws."""

import ast
from collections import Counter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gpuagent"
# Modules that reach outside the process: only gpuagent/host/ may import them.
SIDE_EFFECT_MODULES = {"subprocess", "docker", "pynvml", "sqlite3", "requests", "fcntl", "urllib", "apprise", "socket", "http", "ssl"}
# What each package may import of gpuagent, besides itself. The graph, bottom up:
#   core <- host (adapters) <- jobs <- export
#                              jobs <- observe <- runs <- sessions
#   commands (one module per verb) import any feature; views render what commands return;
#   cli parses, calls a command and renders, and is imported by nothing.
FEATURES = {
    "core": set(),
    "host": {"core"},
    "jobs": {"core", "host"},
    "export": {"core", "jobs"},
    "observe": {"core", "host", "jobs"},
    "runs": {"core", "host", "jobs", "observe"},
    "sessions": {"core", "host", "jobs", "observe", "runs"},
    "queue": {"core", "host", "jobs", "observe", "runs"},
    "commands": {"core", "host", "jobs", "export", "observe", "runs", "sessions", "queue"},
    "views": {"core", "host", "jobs", "observe", "runs", "sessions", "queue", "commands"},
    "cli": {"core", "host", "jobs", "observe", "runs", "sessions", "queue", "commands", "views"},
}
# The vocabulary: pure modules of records that adapters store and views show. Any package
# may import these; they import only core and each other, so no circle can pass through them.
RECORDS = {
    "gpuagent.jobs.job",
    "gpuagent.jobs.settings",
    "gpuagent.jobs.schedule",
    "gpuagent.runs.record",
    "gpuagent.runs.runmetrics",
    "gpuagent.observe.notifications",
    "gpuagent.sessions.jupyterlab",
    "gpuagent.sessions.spec",
    "gpuagent.queue.entry",
}
TOP_LEVEL = {"__init__", "__main__"}


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


def gpuagent_modules(path: Path) -> set[str]:
    """The gpuagent modules `path` imports, each by its module name (a name imported from
    a module counts as that module)."""
    found = set()
    for name in imported_modules(path):
        parts = name.split(".")
        if parts[0] == "gpuagent" and len(parts) >= 3:
            found.add(".".join(parts[:3]))
    return found


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def package_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def module_name(path: Path) -> str:
    return ".".join(("gpuagent", *path.relative_to(PACKAGE).with_suffix("").parts))


def crossings(path: Path, own: str | None = None) -> list[str]:
    """The imports of `path` (a module of package `own`: by default, where it lies) that
    the feature graph does not allow."""
    own = own or package_of(path)
    if own in TOP_LEVEL:
        return []
    allowed = FEATURES[own] | {own}
    return sorted(name for name in gpuagent_modules(path) if name.split(".")[1] not in allowed and name not in RECORDS)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_side_effects_only_in_host(path):
    if package_of(path) == "host":
        return
    reached = {name.split(".")[0] for name in imported_modules(path)} & SIDE_EFFECT_MODULES
    assert not reached, f"{path.relative_to(PACKAGE)} imports {sorted(reached)}: move that into gpuagent/host/"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_features_import_only_what_lies_below_them(path):
    assert package_of(path) in FEATURES | dict.fromkeys(TOP_LEVEL), f"{path.relative_to(PACKAGE)}: a new package needs its place in FEATURES"
    crossing = crossings(path)
    assert not crossing, f"{path.relative_to(PACKAGE)} ({package_of(path)}) imports {crossing}"


def test_records_import_only_core_and_records():
    for name in sorted(RECORDS):
        path = PACKAGE.joinpath(*name.split(".")[1:]).with_suffix(".py")
        outside = sorted(m for m in gpuagent_modules(path) if m.split(".")[1] != "core" and m not in RECORDS)
        assert not outside, f"{name} is a record module but imports {outside}"


def test_nothing_imports_cli_or_export_but_the_layers_above():
    for path in modules():
        if package_of(path) in ("cli", "commands", "export", *TOP_LEVEL):
            continue
        reached = sorted(m for m in gpuagent_modules(path) if m.split(".")[1] in ("cli", "export"))
        assert not reached, f"{path.relative_to(PACKAGE)} imports {reached}: only cli/ and commands/ use the export engines"


def test_commands_do_not_import_each_other():
    for path in (PACKAGE / "commands").glob("*.py"):
        others = sorted(name for name in gpuagent_modules(path) if name.startswith("gpuagent.commands.") and name != module_name(path))
        assert not others, f"commands/{path.name} imports {others}: a helper two commands share lives with the feature it serves"


def test_no_two_modules_share_a_name():
    stems = Counter(path.stem for path in modules() if path.stem not in TOP_LEVEL)
    twice = sorted(stem for stem, count in stems.items() if count > 1)
    assert not twice, f"module names used more than once: {twice}"


def test_no_grab_bag_modules():
    grab_bags = {"common", "utils", "util", "helpers", "misc"}
    found = sorted(str(path.relative_to(PACKAGE)) for path in modules() if path.stem in grab_bags)
    assert not found, f"{found}: a helper lives with the feature it serves"


def test_the_rules_catch_a_violation(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    import subprocess\n    from gpuagent.runs.runner import run_job\n    from gpuagent.runs.record import RunRecord\n"
    )
    assert "subprocess" in imported_modules(sample)
    # in jobs/, a record module of runs is fine and the runner is not; in sessions/, both are
    assert crossings(sample, "jobs") == ["gpuagent.runs.runner"]
    assert crossings(sample, "sessions") == []
