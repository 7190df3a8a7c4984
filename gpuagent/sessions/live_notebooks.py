"""The notebooks started and not yet ended: one 0600 file of settings each, in a 0700
directory of gpuagent's runtime directory (they hold tokens)."""

import os
from pathlib import Path

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.core.paths import Paths
from gpuagent.core.values import NAME_PATTERN
from gpuagent.host.files import write_atomic
from gpuagent.sessions.jupyterlab import NotebookSpec


def write_notebook(paths: Paths, spec: NotebookSpec) -> Path:
    directory = paths.notebooks_dir
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = paths.notebook_file(spec.name)
    write_atomic(path, spec.to_json() + "\n", mode=0o600)
    return path


def read_notebook(paths: Paths, name: str) -> NotebookSpec:
    path = paths.notebook_file(name)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise NotFound(f"no notebook named {name!r} is running", "see `gpuagent notebook list`") from None
    except PermissionError:
        raise InvalidInput(
            f"cannot read {path}: it holds the notebook's token", "run it as the user that started the notebook (sudo for system ones)"
        ) from None
    try:
        return NotebookSpec.from_json(text)
    except (ValueError, TypeError) as err:
        raise InvalidInput(f"notebook file {path} is damaged ({err})", f"gpuagent notebook stop {name}, then start it again") from None


def notebook_names(paths: Paths) -> list[str]:
    if not paths.notebooks_dir.is_dir():
        return []
    return sorted(p.stem for p in paths.notebooks_dir.glob("*.json") if NAME_PATTERN.fullmatch(p.stem))


def ports_taken(paths: Paths) -> set[int]:
    """The ports the notebooks that have files hold, or will once started."""
    taken = set()
    for name in notebook_names(paths):
        try:
            taken.add(NotebookSpec.from_json(paths.notebook_file(name).read_text()).port)
        except (OSError, ValueError, TypeError):
            continue  # unreadable or damaged: its port is checked by binding it
    return taken


def remove_notebook(paths: Paths, name: str) -> None:
    paths.notebook_file(name).unlink(missing_ok=True)
