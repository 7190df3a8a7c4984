"""Things at a path that are not a regular file, as a container or a careless argument
leaves them: what gpuagent must neither read as a file nor write over."""

import os
import socket
from pathlib import Path

KINDS = ("fifo", "socket", "directory", "dangling-symlink")


def make_special(path: Path, kind: str) -> Path:
    """`path` made one of KINDS (a dangling link points beside it, at nothing)."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(path))
    elif kind == "directory":
        path.mkdir()
    elif kind == "dangling-symlink":
        path.symlink_to(path.parent / "nowhere")
    else:
        raise ValueError(f"no special file of kind {kind!r}: one of {KINDS}")
    return path
