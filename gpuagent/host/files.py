"""Files: writing them so that a reader never sees half of one, and reading an env file."""

import os
import tempfile
from pathlib import Path

from gpuagent.core.errors import InvalidInput
from gpuagent.core.values import parse_env_pair


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_env_file(path: str) -> list[tuple[str, str]]:
    """docker's env-file format: KEY=VALUE lines, '#' comments and blank lines ignored."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise InvalidInput(
            f"--env-file: cannot read {path}: {err.strerror}",
            "check the path and that the file is readable by the user that runs gpuagent",
        ) from None
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            pairs.append(parse_env_pair(line))
        except InvalidInput as err:
            raise InvalidInput(f"--env-file {path}, line {number}: {err.message}", err.hint) from None
    return pairs
