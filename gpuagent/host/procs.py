"""Host processes, read from /proc: which container one belongs to, and which programs run
with which flags; and who runs this one (the user behind sudo).

NVML names the processes on a GPU by host PID. A container's processes sit in a cgroup
whose path carries the container's id: /docker/<id> (cgroupfs driver, v1 or v2) or
/system.slice/docker-<id>.scope (systemd driver).
"""

import os
import pwd
import re
from collections.abc import Collection
from pathlib import Path

_CONTAINER_ID = re.compile(r"docker[-/]([0-9a-f]{64})")


def container_id_of_pid(pid: int, proc_root: Path = Path("/proc")) -> str | None:
    """The docker container id of process `pid`, or None (not in a container, or gone)."""
    try:
        text = (proc_root / str(pid) / "cgroup").read_text()
    except OSError:
        return None
    match = _CONTAINER_ID.search(text)
    return match[1] if match else None


def command_lines(programs: Collection[str], proc_root: Path = Path("/proc")) -> dict[int, list[str]]:
    """The argv of every running process whose program (argv[0]'s base name) is one of
    `programs`, by PID: how doctor finds node_exporter and dcgm-exporter and reads their flags."""
    found = {}
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        words = [word.decode(errors="replace") for word in argv if word]
        if words and words[0].rsplit("/", 1)[-1] in programs:
            found[int(entry.name)] = words
    return found


def flag_value(argv: list[str], flag: str) -> str | None:
    """The value of `--flag=VALUE` or `--flag VALUE` in `argv` (the last one wins, as with Go's flags)."""
    value = None
    for index, word in enumerate(argv):
        if word.startswith(f"{flag}="):
            value = word.split("=", 1)[1]
        elif word == flag and index + 1 < len(argv):
            value = argv[index + 1]
    return value


def environment(pid: int, proc_root: Path = Path("/proc")) -> dict[str, str]:
    """The environment process `pid` started with ({} when it may not be read)."""
    try:
        entries = (proc_root / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(entry.decode(errors="replace").partition("=")[::2] for entry in entries if b"=" in entry)


def invoking_user() -> str:
    """Who runs this command: the user behind sudo (SUDO_USER, set by sudo for root), else
    the effective user's name (its number where the password database has none)."""
    behind_sudo = os.environ.get("SUDO_USER") if os.geteuid() == 0 else None
    if behind_sudo:
        return behind_sudo
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
