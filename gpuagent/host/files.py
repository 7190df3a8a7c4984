"""Files: writing them so that a reader never sees half of one, writing what a user asked
for (-o) only where a file belongs, reading only a plain file from a place someone else
controls, and reading an env file."""

import os
import stat
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


def check_output_file(path: Path, label: str = "-o") -> None:
    """InvalidInput unless `path` is a regular file or nothing yet.

    write_output renames a new file over `path`: over a device node, a FIFO or a socket
    that would replace it (as root, `-o /dev/null` would replace the host's /dev/null),
    and over a link it would replace the link, not what it names. So only a regular file
    is replaced; anything else is refused before any work is done."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        found = None
    except OSError as err:
        raise InvalidInput(f"{label} {path}: {err.strerror}", "give a file in a directory") from None
    if found is not None and not stat.S_ISREG(found.st_mode):
        what = _KINDS.get(stat.S_IFMT(found.st_mode), "not a regular file")
        hint = (
            f"give the file it names: -o {os.path.realpath(path)}"
            if what == "a symbolic link"
            else "give a regular file, or a path where nothing is yet"
        )
        raise InvalidInput(f"{label} {path} is {what}: only a regular file is replaced", hint)


def write_output(path: Path, text: str, mode: int = 0o644, label: str = "-o") -> None:
    """Write a file the user named (`-o`): only a regular file or a new path (see
    check_output_file), whole or not at all; a failure (a read-only place, /proc, /sys,
    a full disk) is one line of error, not a traceback."""
    check_output_file(path, label)
    try:
        write_atomic(path, text, mode)
    except OSError as err:
        raise InvalidInput(f"{label} {path}: cannot write it ({err.strerror or err})", "give a file in a directory you can write") from None


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


class NotPlainFile(Exception):
    """What read_plain_file found at the path is not a regular file."""


def read_plain_file(path: Path, limit: int) -> bytes | None:
    """Up to `limit` bytes of `path`, a file someone else wrote (a container): None when
    nothing is there. Only a regular file is opened: opening a device node can act on the
    host (a watchdog, a tape), a FIFO would block, a link would read a file of the host's.
    Raises NotPlainFile, or OSError when it cannot be read."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(found.st_mode):
        raise NotPlainFile(_KINDS.get(stat.S_IFMT(found.st_mode), "not a regular file"))
    # O_NOFOLLOW and O_NONBLOCK, and fstat once open: it may have changed since lstat
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotPlainFile("not a regular file")
        chunks, left = [], limit
        while left > 0 and (chunk := os.read(fd, left)):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def file_type(path: str) -> int | None:
    """What is at `path`, as stat's S_IFMT (stat.S_IFREG, S_IFDIR...), links followed; None
    when nothing is there (or it cannot be looked at)."""
    try:
        return stat.S_IFMT(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


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
