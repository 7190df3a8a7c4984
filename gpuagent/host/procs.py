"""Which container a host process belongs to, read from /proc.

NVML names the processes on a GPU by host PID. A container's processes sit in a cgroup
whose path carries the container's id: /docker/<id> (cgroupfs driver, v1 or v2) or
/system.slice/docker-<id>.scope (systemd driver).
"""

import re
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
