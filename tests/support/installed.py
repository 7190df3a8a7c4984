"""An installed gpuagent in a box, driven as a person would: install.sh, users of the
box with their own systemd manager, and what an install leaves (units, files, modes).
Running `gpuagent` in a box and reading its runs: tests/support/boxed.py."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .agent import wait_for
from .systemd_box import BOX_PATH, SRC_IN_BOX, SystemdBox
from .wheels import ensure_wheelhouse, project_version

INSTALL_SH = f"{SRC_IN_BOX}/install.sh"
WHEELHOUSE_IN_BOX = "/opt/wheelhouse"
VERSION = project_version()
UPGRADE_VERSION = f"{VERSION}.post1"  # what upgrade tests build and install


def bare_host_box(**options) -> SystemdBox:
    """A box like a fresh Debian server: systemd, python3 with venv, docker (the host's
    daemon and CLI) and no gpuagent; the checkout at /opt/gpuagent-src (read-only) and
    the wheels of gpuagent's dependencies at WHEELHOUSE_IN_BOX, for offline installs."""
    return SystemdBox([(ensure_wheelhouse(), WHEELHOUSE_IN_BOX, True)], checkout_agent=False, docker_cli=True, **options)


@dataclass(frozen=True)
class BoxUser:
    """A login of the box, for --user installs and user units."""

    name: str
    uid: int

    @property
    def home(self) -> str:
        return f"/home/{self.name}"

    @property
    def history(self) -> str:
        return f"{self.home}/.local/state/gpuagent/history.db"

    def command(self, *args: str) -> list[str]:
        """`args` as this user, with the environment a login session gives."""
        return [
            "runuser",
            "-u",
            self.name,
            "--",
            "env",
            f"HOME={self.home}",
            f"USER={self.name}",
            f"XDG_RUNTIME_DIR=/run/user/{self.uid}",
            f"PATH={self.home}/.local/bin:{BOX_PATH}",
            *args,
        ]


def add_docker_user(box: SystemdBox, name: str) -> BoxUser:
    """A user who may use docker (through the group of the host's socket) and whose
    systemd user manager runs without a login (linger)."""
    socket_gid = os.stat("/run/docker.sock").st_gid
    box.exec(["sh", "-c", 'getent group "$1" >/dev/null || groupadd --gid "$1" docker', "sh", str(socket_gid)])
    box.exec(["useradd", "--create-home", "--groups", str(socket_gid), name])
    uid = int(box.exec(["id", "-u", name]).stdout)
    box.exec(["loginctl", "enable-linger", name])
    user = BoxUser(name, uid)
    wait_for(
        lambda: box.exec(user.command("systemctl", "--user", "is-system-running"), check=False).stdout.strip() in ("running", "degraded"),
        timeout=30,
        what=f"{name}'s systemd user manager",
    )
    return user


def install_sh(box: SystemdBox, *args: str, user: BoxUser | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run install.sh from the checkout in the box, as root or as `user`. Not checked:
    tests look at its exit code and what it said."""
    command = [INSTALL_SH, *args]
    return box.exec(user.command(*command) if user else command, check=False, timeout=timeout)


def unit_state(box: SystemdBox, unit: str, user: BoxUser | None = None) -> tuple[str, str, str]:
    """The unit's LoadState, UnitFileState and ActiveState, in `user`'s manager or the system's."""
    names = ("LoadState", "UnitFileState", "ActiveState")
    command = ["systemctl", *(["--user"] if user else []), "show", f"--property={','.join(names)}", unit]
    lines = box.exec(user.command(*command) if user else command).stdout.splitlines()
    values = dict(line.split("=", 1) for line in lines)
    return tuple(values[name] for name in names)


def mode_and_owner(box: SystemdBox, path: str) -> str:
    return box.exec(["stat", "-c", "%a %u:%g", path]).stdout.strip()


def file_state(root: Path, *paths: str) -> dict[str, tuple]:
    """What tells whether a file was rewritten: inode, size and modification time."""
    state = {}
    for path in paths:
        info = os.lstat(root / path.lstrip("/"))
        state[path] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode)
    return state
