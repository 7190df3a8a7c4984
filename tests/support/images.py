"""Local test images, built with no registry and cached in the local dockerd.

Each image carries a label with a hash of the recipe that made it (this file and the
inputs it copies in); an image whose label matches is reused, anything else is rebuilt.

Run ``python -m tests.support.images`` (from the repository root) to prebuild the two
small ones; the torch image (several hundred MB) and the notebook image (images/notebook
on images/runtime, on a light Debian python) are built when a test first asks for them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .cache import CACHE, REPO, build_cached, digest

BUSYBOX_IMAGE = "gpuagent-test/busybox:latest"
PYTHON_IMAGE = "gpuagent-test/python:3.11"
TORCH_VERSION = "2.13.0"  # its CPU wheel for CPython 3.11 lies on these machines' disk
TORCH_IMAGE = f"gpuagent-test/torch:{TORCH_VERSION}-cpu"
NOTEBOOK_IMAGE = "gpuagent-test/notebook:latest"
# The notebook image's layers below it: Debian's python3 and pip (no torch: a notebook
# test needs none), then images/runtime on it.
NOTEBOOK_BASE_IMAGE = "gpuagent-test/notebook-base:bookworm"
NOTEBOOK_RUNTIME_IMAGE = "gpuagent-test/notebook-runtime:latest"
NOTEBOOK_DIR = REPO / "images/notebook"
RUNTIME_DIR = REPO / "images/runtime"
# Wheels for the base's CPython 3.11 on glibc 2.36: the tags JupyterLab's dependencies ship.
NOTEBOOK_WHEEL_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "linux_x86_64")

RECIPE_LABEL = "gpuagent-test.recipe"
BUSYBOX_BINARY = Path("/bin/busybox")  # from Debian's busybox-static
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_LOCK = CACHE / "images.lock"

_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


class ImageBuildError(RuntimeError):
    pass


def ensure_busybox_image() -> str:
    """Tag of a tiny image: static busybox with its applets, root and nobody users."""
    if not BUSYBOX_BINARY.is_file():
        raise ImageBuildError(f"{BUSYBOX_BINARY} is missing: install busybox-static (tests/setup-host.sh)")
    binary = BUSYBOX_BINARY.read_bytes()
    recipe = _recipe_hash(binary)
    with _build_lock():
        if _label(BUSYBOX_IMAGE) != recipe:
            _docker_import(BUSYBOX_IMAGE, recipe, _busybox_tar(binary))
            _prove_runs(BUSYBOX_IMAGE, "sh", "-c", "id nobody && ls /bin/sleep")
    return BUSYBOX_IMAGE


def ensure_python_image() -> str:
    """Tag of Debian bookworm's python3 (3.11) with dash and coreutils, no apt."""
    recipe = _recipe_hash()
    with _build_lock():
        if _label(PYTHON_IMAGE) != recipe:
            _build_debian_image(PYTHON_IMAGE, recipe, ["python3", "dash", "coreutils"], _PYTHON_HOOKS)
            _prove_runs(PYTHON_IMAGE, "sh", "-c", "id nobody && python3 -c 'import json'")
    return PYTHON_IMAGE


def ensure_torch_site() -> Path:
    """torch (the CPU build) and what it imports, installed by pip for CPython 3.11 into
    a directory of its own (cached under .cache/torch-site): what the torch image carries,
    and what a test puts on PYTHONPATH to run PyTorch code without a container."""
    requirements = [f"torch=={TORCH_VERSION}", "numpy"]  # the official image has numpy too

    def build(directory: Path) -> None:
        _pip_for_cp311("install", "--target", str(directory), *requirements)
        # Headers, C++ test programs and CMake files: a fifth of the size, never imported.
        torch_dir = directory / "torch"
        for unused in ("include", "test", "share"):
            shutil.rmtree(torch_dir / unused, ignore_errors=True)
        for program in (torch_dir / "bin").iterdir():
            if program.name == "torch_shm_manager":  # DataLoader workers need this one
                continue
            if program.is_dir():
                shutil.rmtree(program)
            else:
                program.unlink()

    return build_cached(CACHE, "torch-site", digest(*requirements, "cp311", "pruned"), build)


def _pip_for_cp311(verb: str, *args: str) -> None:
    """`pip VERB` of binary wheels for CPython 3.11 (Debian bookworm's), whatever Python runs it."""
    common = ["--quiet", "--disable-pip-version-check", "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp"]
    command = [sys.executable, "-m", "pip", verb, *common, *args]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise ImageBuildError(f"pip {verb} {' '.join(args[-3:])} failed:\n{result.stderr[-3000:]}")


def ensure_torch_image() -> str:
    """Tag of Debian's python3 (3.11) with torch (CPU) in /usr/local/lib/python3.11/
    dist-packages, a `python` command and useradd: a local stand-in for the official
    pytorch/pytorch image, as images/runtime's BASE_IMAGE."""
    site = ensure_torch_site()
    recipe = _recipe_hash((site.parent / f"{site.name}.complete").read_bytes())
    with _build_lock():
        if _label(TORCH_IMAGE) != recipe:
            site_in_image = "/usr/local/lib/python3.11/dist-packages"
            hooks = [*_PYTHON_HOOKS, 'ln -sf python3 "$1/usr/bin/python"', f'mkdir -p "$1{site_in_image}"', f"sync-in {site} {site_in_image}"]
            packages = ["python3", "dash", "coreutils", "passwd", "login", "libstdc++6", "libgomp1"]
            _build_debian_image(TORCH_IMAGE, recipe, packages, hooks)
            _prove_runs(TORCH_IMAGE, "sh", "-c", "command -v useradd && python -c 'import torch; torch.ones(2) @ torch.ones(2)'")
    return TORCH_IMAGE


def notebook_versions() -> dict[str, str]:
    """The versions images/notebook/Dockerfile pins, by ARG name (JUPYTERLAB_VERSION,
    JUPYTER_SERVER_VERSION): the one place they are written."""
    text = (NOTEBOOK_DIR / "Dockerfile").read_text()
    versions = dict(re.findall(r"^ARG (JUPYTER\w*_VERSION)=(\S+)$", text, re.MULTILINE))
    if "JUPYTERLAB_VERSION" not in versions:
        raise ImageBuildError("images/notebook/Dockerfile pins no ARG JUPYTERLAB_VERSION=...")
    return versions


def _notebook_requirements() -> list[str]:
    names = {"JUPYTERLAB_VERSION": "jupyterlab", "JUPYTER_SERVER_VERSION": "jupyter_server"}
    return [f"{names[arg]}=={version}" for arg, version in sorted(notebook_versions().items()) if arg in names]


def ensure_notebook_wheels() -> Path:
    """The wheels images/notebook installs offline: the pinned JupyterLab and
    jupyter_server with every dependency, for CPython 3.11 on x86_64 Linux, downloaded by
    the host's pip (cached under .cache/notebook-wheels)."""
    requirements = _notebook_requirements()

    def build(directory: Path) -> None:
        platforms = [arg for platform in NOTEBOOK_WHEEL_PLATFORMS for arg in ("--platform", platform)]
        _pip_for_cp311("download", *platforms, "--dest", str(directory), *requirements)

    return build_cached(CACHE, "notebook-wheels", digest(*requirements, "cp311", *NOTEBOOK_WHEEL_PLATFORMS), build)


def ensure_notebook_image() -> str:
    """Tag of images/notebook built through the real Dockerfiles, offline: images/runtime
    on Debian bookworm's python3 and pip (no torch), then images/notebook on it with the
    cached wheels in its wheels/ (so pip installs with no index, as on an offline host)."""
    wheels = ensure_notebook_wheels()
    base_recipe = _recipe_hash(b"notebook-base")
    with _build_lock():
        if _label(NOTEBOOK_BASE_IMAGE) != base_recipe:
            hooks = [*_PYTHON_HOOKS, 'ln -sf python3 "$1/usr/bin/python"']
            packages = ["python3", "python3-pip", "dash", "coreutils", "passwd", "login", "libstdc++6"]  # pyzmq needs libstdc++
            _build_debian_image(NOTEBOOK_BASE_IMAGE, base_recipe, packages, hooks)
            _prove_runs(NOTEBOOK_BASE_IMAGE, "sh", "-c", "command -v useradd && python -m pip --version")
        runtime_recipe = _recipe_hash(base_recipe.encode(), _files_hash(_context_files(RUNTIME_DIR)))
        if _label(NOTEBOOK_RUNTIME_IMAGE) != runtime_recipe:
            _docker_build(NOTEBOOK_RUNTIME_IMAGE, runtime_recipe, RUNTIME_DIR, BASE_IMAGE=NOTEBOOK_BASE_IMAGE)
        # The build context: images/notebook with the cached wheels in its wheels/ (the
        # checkout's own, an offline build's if any, stay out).
        files = {relative: path for relative, path in _context_files(NOTEBOOK_DIR).items() if path.suffix != ".whl"}
        files |= {Path("wheels") / wheel.name: wheel for wheel in wheels.glob("*.whl")}
        recipe = _recipe_hash(runtime_recipe.encode(), _files_hash(files))
        if _label(NOTEBOOK_IMAGE) != recipe:
            with tempfile.TemporaryDirectory(prefix="gpuagent-notebook-") as context:
                for relative, path in files.items():
                    (Path(context) / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, Path(context) / relative)
                _docker_build(NOTEBOOK_IMAGE, recipe, Path(context), RUNTIME_IMAGE=NOTEBOOK_RUNTIME_IMAGE)
            _prove_runs(NOTEBOOK_IMAGE, "sh", "-c", '[ "$(id -u):$(id -g)" = 1000:1000 ] && jupyter lab --version')
    return NOTEBOOK_IMAGE


def _context_files(directory: Path) -> dict[Path, Path]:
    """Every file under `directory`, by its path relative to it."""
    return {path.relative_to(directory): path for path in directory.rglob("*") if path.is_file()}


def _files_hash(files: dict[Path, Path]) -> bytes:
    """A build context's files, by path in it and content."""
    hasher = hashlib.sha256()
    for relative in sorted(files):
        hasher.update(str(relative).encode() + b"\0")
        hasher.update(hashlib.sha256(files[relative].read_bytes()).digest())
    return hasher.digest()


def _docker_build(tag: str, recipe: str, context: Path, **build_args: str) -> None:
    """`docker build` of a real Dockerfile, labelled with its recipe. The legacy builder:
    this docker CLI has no buildx, and the Dockerfiles need nothing BuildKit adds."""
    args = ["docker", "build", "--quiet", "--force-rm", "--tag", tag, "--label", f"{RECIPE_LABEL}={recipe}"]
    for name, value in build_args.items():
        args += ["--build-arg", f"{name}={value}"]
    previous = _image_id(tag)
    result = subprocess.run(
        [*args, str(context)], env={**os.environ, "DOCKER_BUILDKIT": "0"}, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise ImageBuildError(f"docker build {tag} ({context}) failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")
    if previous and previous != _image_id(tag):
        subprocess.run(["docker", "image", "rm", previous], capture_output=True)


def _recipe_hash(*inputs: bytes) -> str:
    hasher = hashlib.sha256(Path(__file__).read_bytes())
    for data in inputs:
        hasher.update(hashlib.sha256(data).digest())
    return hasher.hexdigest()[:16]


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    # Parallel pytest sessions (or setup-host.sh beside a run) must not race a build.
    _LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _image_id(tag: str) -> str | None:
    result = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def _label(tag: str) -> str | None:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', tag],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def _docker_import(tag: str, recipe: str, tar_stream) -> None:
    """Pipe a root filesystem tarball (bytes or a readable pipe) into `docker import`."""
    changes = [f"LABEL {RECIPE_LABEL}={recipe}", f"ENV {PATH_ENV}", 'CMD ["sh"]']
    args = ["docker", "import"]
    for change in changes:
        args += ["--change", change]
    args += ["-", tag]
    previous = _image_id(tag)
    if isinstance(tar_stream, bytes):
        result = subprocess.run(args, input=tar_stream, capture_output=True)
    else:
        result = subprocess.run(args, stdin=tar_stream, capture_output=True)
    if result.returncode != 0:
        raise ImageBuildError(f"docker import {tag} failed: {result.stderr.decode().strip()}")
    if previous and previous != _image_id(tag):
        # The outdated build is now untagged; drop it unless a container still uses it.
        subprocess.run(["docker", "image", "rm", previous], capture_output=True)


def _prove_runs(tag: str, *command: str) -> None:
    trial = subprocess.run(["docker", "run", "--rm", tag, *command], capture_output=True)
    if trial.returncode != 0:
        # Drop it, or its matching label would have the next run reuse it.
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)
        raise ImageBuildError(f"{tag} was built but `{' '.join(command)}` fails in it (exit {trial.returncode}): {trial.stderr.decode().strip()}")


def _busybox_tar(binary: bytes) -> bytes:
    applets = subprocess.run([str(BUSYBOX_BINARY), "--list"], capture_output=True, text=True, check=True).stdout.split()

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:

        def add(name: str, *, data: bytes | None = None, mode: int = 0o644, kind: bytes = tarfile.REGTYPE, target: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname = kind, mode, target
            info.mtime = 0
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        for directory in ("bin", "etc", "root", "dev", "proc", "sys", "usr", "var"):
            add(directory, kind=tarfile.DIRTYPE, mode=0o755)
        add("tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        add("var/tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        add("bin/busybox", data=binary, mode=0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            add(f"bin/{applet}", kind=tarfile.SYMTYPE, target="busybox")
        # Scripts with `#!/usr/bin/env` or `/usr/bin/...` paths must find the applets.
        for link in ("usr/bin", "usr/sbin", "sbin"):
            add(link, kind=tarfile.SYMTYPE, target="/bin")
        add("etc/passwd", data=_PASSWD.encode())
        add("etc/group", data=_GROUP.encode())
    return buf.getvalue()


# The extract variant runs no maintainer scripts: no users, no .pyc files, and
# /bin/sh only if dash ships the link. The hooks supply what a plain run needs.
_PYTHON_HOOKS = [
    f"printf '{_PASSWD}' > \"$1/etc/passwd\"",
    f"printf '{_GROUP}' > \"$1/etc/group\"",
    '[ -e "$1/bin/sh" ] || ln -s dash "$1/bin/sh"',
    'mkdir -p "$1/tmp" "$1/root" && chmod 1777 "$1/tmp"',
    # Without .pyc files every interpreter start recompiles: ~230 ms instead of ~65.
    'chroot "$1" /usr/bin/python3 -m compileall -q -j0 /usr/lib/python3.11 >/dev/null',
]

# Debian without documentation, manual pages or translations: smaller, faster to build.
DPKG_EXCLUDES = [
    "path-exclude=/usr/share/doc/*",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
]


def _build_debian_image(tag: str, recipe: str, packages: list[str], hooks: list[str]) -> None:
    """Import Debian bookworm's `packages`, unpacked (no maintainer scripts) and then
    finished by `hooks` (mmdebstrap extract hooks, special ones like sync-in included)."""
    args = ["mmdebstrap", "--quiet", "--variant=extract", f"--include={','.join(packages)}"]
    args += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
    args += [f"--extract-hook={hook}" for hook in hooks]
    args += ["bookworm", "-"]
    with tempfile.TemporaryFile() as log:
        debstrap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        try:
            _docker_import(tag, recipe, debstrap.stdout)
        finally:
            debstrap.stdout.close()
            if debstrap.wait() != 0:
                subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)
                log.seek(0)
                raise ImageBuildError(f"mmdebstrap failed (exit {debstrap.returncode}): {log.read().decode(errors='replace')[-2000:]}")


def main() -> None:
    for ensure in (ensure_busybox_image, ensure_python_image):
        started = time.monotonic()
        tag = ensure()
        print(f"setup-host: image {tag} ready ({time.monotonic() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
