"""A real systemd, booted in a systemd-nspawn container, for end-to-end tests.

The root filesystem (Debian bookworm: systemd, dbus, python3 with venv, and what user
managers need: libpam-systemd, dbus-user-session) is built once with
mmdebstrap and cached under ``.cache/systemd-box/``; every box boots on a fresh
overlayfs over it, so each one starts pristine. Inside a box:

- ``/opt/gpuagent-src`` is this checkout (read-only) and ``/opt/gpuagent-site`` the
  project's dependencies for the box's python3 (3.11); ``/usr/local/bin/gpuagent``
  runs ``python3 -m gpuagent`` over both, so units can say ``ExecStart=gpuagent ...``
  (unless the box is made with ``checkout_agent=False``: a host with no gpuagent yet,
  for installing one as a person would);
- with ``docker_cli=True``, the host's ``docker`` command at ``/usr/local/bin/docker``;
- with ``shared_dir=True``, ``box.shared``: a host directory at the same path inside the
  box, for bind mounts the box asks the host's dockerd for (dockerd resolves a mount's
  source on the host, so only a path that is the same on both sides works);
- ``/run/docker.sock`` links to the host's dockerd socket (the host's /run is bound
  read-only at ``/run/hostrun``; a link, not a bind of the socket file, so a dockerd
  restart does not leave a stale inode behind).

Needs root, systemd-nspawn, nsenter and mmdebstrap (tests/setup-host.sh installs them).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from .cache import CACHE as CACHE_ROOT
from .cache import REPO, build_cached, digest
from .images import DPKG_EXCLUDES

CACHE = CACHE_ROOT / "systemd-box"

SRC_IN_BOX = "/opt/gpuagent-src"
SITE_IN_BOX = "/opt/gpuagent-site"
BOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOX_PYTHON = "3.11"  # Debian bookworm's python3

_ROOTFS_PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv,libpam-systemd,dbus-user-session"
_ROOTFS_HOOKS = [
    # Timers that would run apt inside a test box at random moments.
    'systemctl --root="$1" mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer',
    # nspawn supplies a transient machine id when the file is empty, and the
    # hostname (the machine name) when there is no file naming one.
    ': > "$1/etc/machine-id" && rm -f "$1/etc/hostname"',
]

_GPUAGENT_WRAPPER = f"""#!/bin/sh
exec env PYTHONPATH={SRC_IN_BOX}:{SITE_IN_BOX} /usr/bin/python3 -m gpuagent "$@"
"""
_DOCKER_SOCKET_LINK = "L+ /run/docker.sock - - - - /run/hostrun/docker.sock\n"
# Each run's own files are bind-mounted into its container by the host's dockerd, which
# resolves the path on the host: every box keeps them in a directory that is the same
# path on both sides (bound in at boot), for the agent run by the system's and users'
# gpuagent@.service and for gpuagent run by exec().
_RUN_FILES_DROP_INS = ("etc/systemd/system/gpuagent@.service.d", "etc/systemd/user/gpuagent@.service.d")

_names = itertools.count()


class BoxError(RuntimeError):
    """The box could not be built, booted or torn down."""


class BoxCommandError(subprocess.CalledProcessError):
    """A command run in the box with check=True exited non-zero."""

    def __str__(self) -> str:
        return f"command {self.cmd!r} exited {self.returncode} in the box\n--- stdout ---\n{self.stdout or ''}--- stderr ---\n{self.stderr or ''}"


# --- cached inputs ------------------------------------------------------------


def ensure_rootfs() -> Path:
    """The cached bookworm root filesystem boxes boot from (built on first use)."""
    args = ["mmdebstrap", "--quiet", "--variant=apt", f"--include={_ROOTFS_PACKAGES}", '--aptopt=Acquire::Retries "3"']
    args += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
    args += [f"--customize-hook={hook}" for hook in _ROOTFS_HOOKS]
    args += ["bookworm"]

    def build(directory: Path) -> None:
        for _attempt in (1, 2):  # one retry: the mirror is across a network
            result = subprocess.run([*args, str(directory)], stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if result.returncode == 0:
                return
            shutil.rmtree(directory, ignore_errors=True)
        raise BoxError(f"mmdebstrap failed (exit {result.returncode}):\n{result.stderr[-3000:]}")

    return build_cached(CACHE, "rootfs", digest(*args), build)


def _project_dependencies() -> list[str]:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def ensure_site() -> Path:
    """The project's dependencies, installed for the box's python3 (cached)."""
    deps = _project_dependencies()
    args = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--python-version",
        BOX_PYTHON,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        *deps,
    ]

    def build(directory: Path) -> None:
        result = subprocess.run([*args, "--target", str(directory)], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            raise BoxError(f"pip install for the box failed:\n{result.stderr[-3000:]}")

    return build_cached(CACHE, "site", digest(BOX_PYTHON, *deps), build)


# --- cgroups --------------------------------------------------------------------


def _cgroup_roots() -> list[Path]:
    """Hierarchies that get a cgroup per box: name=systemd and unified (hybrid host),
    or the single cgroup2 root (unified host)."""
    roots = [Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified")]
    found = [r for r in roots if (r / "cgroup.procs").exists()]
    if not found and Path("/sys/fs/cgroup/cgroup.controllers").exists():
        found = [Path("/sys/fs/cgroup")]
    return found


def _cgroup_pids(cgroup: Path) -> set[int]:
    pids: set[int] = set()
    for procs in cgroup.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in procs.read_text().split())
    return pids


def _remove_cgroup(cgroup: Path, deadline: float) -> None:
    """Kill whatever is left in `cgroup` and remove it with its children."""
    if not cgroup.exists():
        return
    while True:
        kill = cgroup / "cgroup.kill"
        if kill.exists():
            with contextlib.suppress(OSError):
                kill.write_text("1")
        for pid in _cgroup_pids(cgroup):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            for sub in sorted((d for d in cgroup.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
                sub.rmdir()
            cgroup.rmdir()
            return
        except OSError as e:
            if time.monotonic() > deadline:
                raise BoxError(f"cannot remove cgroup {cgroup}: {e}") from e
            time.sleep(0.05)


# --- the box ----------------------------------------------------------------------


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target for line in f)


def _bind_option(host: str | os.PathLike, container: str, readonly: bool) -> str:
    def escape(p: str) -> str:
        return str(p).replace("\\", "\\\\").replace(":", "\\:")

    flag = "--bind-ro" if readonly else "--bind"
    return f"{flag}={escape(os.fspath(host))}:{escape(container)}"


class SystemdBox:
    """One booted systemd container. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        binds: Sequence[tuple[str | os.PathLike, str, bool]] = (),
        *,
        name: str | None = None,
        boot_timeout: float = 90.0,
        checkout_agent: bool = True,
        docker_cli: bool = False,
        shared_dir: bool = False,
    ) -> None:
        self.name = name or f"gpuagent-box-{os.getpid()}-{next(_names)}"
        self.dir = CACHE / "boxes" / self.name
        self.binds = list(binds)
        self.checkout_agent = checkout_agent
        if docker_cli:
            docker = shutil.which("docker", path=BOX_PATH)
            if docker is None:
                raise BoxError("docker_cli=True but the host has no docker command")
            self.binds.append((docker, "/usr/local/bin/docker", True))
        self.shared = self.dir / "shared" if shared_dir else None
        self.run_files = self.dir / "run-files"
        self.binds.append((self.run_files, str(self.run_files), False))
        if self.shared:
            self.binds.append((self.shared, str(self.shared), False))
        self.boot_timeout = boot_timeout
        self.root = self.dir / "root"  # the box's / as the host sees it (overlay)
        self.console_log = self.dir / "console.log"
        self.leader: int | None = None  # the box's systemd, as a host pid
        self.state: str | None = None  # `systemctl is-system-running` after boot
        self._nspawn: subprocess.Popen | None = None
        self._cgroups = [r / f"nspawn-{self.name}" for r in _cgroup_roots()]

    def __enter__(self) -> SystemdBox:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- start -------------------------------------------------------------------

    def start(self) -> SystemdBox:
        """Boot the box; returns once systemd reports running (or degraded)."""
        if self.dir.exists():
            raise BoxError(f"{self.dir} exists: is a box named {self.name} running?")
        rootfs, site = ensure_rootfs(), ensure_site()
        try:
            self._mount_overlay(rootfs)
            self._provision()
            self._boot(site)
            self._wait_until_booted()
        except BaseException:
            with contextlib.suppress(BoxError):
                self.stop()
            raise
        return self

    def _mount_overlay(self, rootfs: Path) -> None:
        for sub in ("upper", "work", "root", "run-files", *(["shared"] if self.shared else [])):
            (self.dir / sub).mkdir(parents=True)
        (self.dir / "owner.pid").write_text(str(os.getpid()))
        self.run_files.chmod(0o1777)  # users' agents make their runs' directories there too
        options = f"lowerdir={rootfs},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}"
        _run(["mount", "-t", "overlay", "overlay", "-o", options, str(self.root)])

    def _provision(self) -> None:
        """Files the box needs at boot, written into its (still private) upper dir."""
        if self.checkout_agent:
            wrapper = self.root / "usr/local/bin/gpuagent"
            wrapper.parent.mkdir(parents=True, exist_ok=True)
            wrapper.write_text(_GPUAGENT_WRAPPER)
            wrapper.chmod(0o755)
        tmpfiles = self.root / "etc/tmpfiles.d/gpuagent-host-docker.conf"
        tmpfiles.parent.mkdir(parents=True, exist_ok=True)
        tmpfiles.write_text(_DOCKER_SOCKET_LINK)
        for drop_ins in _RUN_FILES_DROP_INS:
            drop_in = self.root / drop_ins / "50-test-run-files.conf"
            drop_in.parent.mkdir(parents=True, exist_ok=True)
            drop_in.write_text(f"[Service]\nEnvironment=GPUAGENT_RUN_FILES_DIR={self.run_files}\n")

    def _boot(self, site: Path) -> None:
        binds = [("/run", "/run/hostrun", True), (REPO, SRC_IN_BOX, True), (site, SITE_IN_BOX, True), *self.binds]
        nspawn = [
            "systemd-nspawn",
            "--quiet",
            f"--directory={self.root}",
            f"--machine={self.name}",
            "--boot",
            "--register=no",
            "--keep-unit",
            "--link-journal=no",
            "--console=read-only",
            *(_bind_option(*bind) for bind in binds),
        ]
        # With --keep-unit nspawn uses the cgroup it runs in: give each box its own,
        # else all boxes share one `payload` cgroup. The shell joins it, then execs.
        for cgroup in self._cgroups:
            cgroup.mkdir(exist_ok=True)
        join = " && ".join(f'echo $$ > "{c}/cgroup.procs"' for c in self._cgroups) or ":"
        env = {"PATH": BOX_PATH, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1", "LANG": "C.UTF-8"}
        with open(self.console_log, "wb") as log:
            self._nspawn = subprocess.Popen(
                ["/bin/sh", "-c", f'{join} && exec "$@"', "sh", *nspawn],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def _wait_until_booted(self) -> None:
        deadline = time.monotonic() + self.boot_timeout
        self.leader = self._find_leader(deadline)
        while True:
            remaining = deadline - time.monotonic()
            try:
                result = self.exec(["systemctl", "is-system-running", "--wait"], check=False, timeout=max(remaining, 1))
            except subprocess.TimeoutExpired:
                result = subprocess.CompletedProcess([], 124, "still booting", "")
            self.state = result.stdout.strip()
            if self.state in ("running", "degraded"):
                return
            if time.monotonic() > deadline:
                raise BoxError(f"box did not finish booting in {self.boot_timeout:.0f} s (state {self.state!r}){self._console_tail()}")
            self._check_alive()
            time.sleep(0.1)  # systemd's bus not up yet

    def _find_leader(self, deadline: float) -> int:
        """The host pid of the box's systemd: nspawn's child that is pid 1 in its
        namespace, once it has exec'd systemd."""
        assert self._nspawn is not None
        nspawn = self._nspawn.pid
        while time.monotonic() < deadline:
            self._check_alive()
            for pid in _children(nspawn):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                except OSError:
                    continue
                nspid = next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])
                if nspid[-1:] == ["1"] and len(nspid) > 1 and comm == "systemd":
                    return pid
            time.sleep(0.02)
        raise BoxError(f"systemd did not start in the box{self._console_tail()}")

    def _check_alive(self) -> None:
        if self._nspawn is not None and self._nspawn.poll() is not None:
            raise BoxError(f"systemd-nspawn exited {self._nspawn.returncode}{self._console_tail()}")

    def _console_tail(self) -> str:
        try:
            lines = self.console_log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n--- box console (last lines) ---\n" + "\n".join(lines[-30:])

    # -- use -----------------------------------------------------------------------

    def exec(
        self, args: Sequence[str], check: bool = True, env: Mapping[str, str] | None = None, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `args` in the box (all its namespaces, its root, cwd /) as root.

        The environment is a clean one (PATH, HOME, LANG, GPUAGENT_RUN_FILES_DIR) plus `env`.
        """
        if self.leader is None:
            raise BoxError("the box is not running")
        full_env = {"PATH": BOX_PATH, "HOME": "/root", "LANG": "C.UTF-8", "GPUAGENT_RUN_FILES_DIR": str(self.run_files), **(env or {})}
        result = subprocess.run(
            ["nsenter", f"--target={self.leader}", "--all", "--", *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise BoxCommandError(result.returncode, list(args), result.stdout, result.stderr)
        return result

    def journal(self, unit: str) -> str:
        """The journal of `unit`, messages only."""
        return self.exec(["journalctl", "--quiet", "--no-pager", "-o", "cat", "-u", unit]).stdout

    def write_file(self, path: str, text: str, mode: int = 0o644) -> None:
        """Write `text` to `path` in the box, creating parent directories."""
        self.exec(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"', "sh", path, format(mode, "o")], input=text)

    # -- stop ------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """Tear the box down completely; safe to call twice or after a failed start."""
        errors: list[str] = []
        deadline = time.monotonic() + timeout
        nspawn, self._nspawn, self.leader = self._nspawn, None, None
        if nspawn is not None and nspawn.poll() is None:
            # nspawn turns SIGTERM into an orderly shutdown of the box's systemd.
            nspawn.terminate()
            try:
                nspawn.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                nspawn.kill()
        for cgroup in self._cgroups:
            try:
                _remove_cgroup(cgroup, deadline + 5)
            except BoxError as e:
                errors.append(str(e))
        if nspawn is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                nspawn.wait(timeout=5)
        self._remove_nspawn_leftovers()
        try:
            _unmount(self.root)
        except BoxError as e:
            errors.append(str(e))
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise BoxError("box teardown incomplete: " + "; ".join(errors))

    def _remove_nspawn_leftovers(self) -> None:
        """What nspawn leaves on the host when it is killed instead of stopped."""
        with contextlib.suppress(OSError):
            (Path("/run/systemd/nspawn/propagate") / self.name).rmdir()
        if _mounted(self.root):
            root = self.root.stat()
            with contextlib.suppress(OSError):
                Path(f"/run/systemd/nspawn/locks/inode-{root.st_dev}:{root.st_ino}").unlink()


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _unmount(path: Path) -> None:
    for _ in range(50):
        if not _mounted(path):
            return
        if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    if subprocess.run(["umount", "--lazy", str(path)], capture_output=True).returncode != 0:
        raise BoxError(f"cannot unmount {path}")


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise BoxError(f"{' '.join(args)} failed: {result.stderr.strip()}")


def reap_stale_boxes() -> None:
    """Tear down boxes whose test process died without stopping them (a killed
    pytest leaves its nspawn running in a session of its own)."""
    boxes = CACHE / "boxes"
    if not boxes.is_dir():
        return
    for directory in boxes.iterdir():
        try:
            owner = int((directory / "owner.pid").read_text())
        except (OSError, ValueError):
            if time.time() - directory.stat().st_mtime < 60:
                continue  # being created right now
        else:
            if _alive(owner):
                continue
        with contextlib.suppress(BoxError):
            SystemdBox(name=directory.name).stop(timeout=2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
