"""A simulated NVIDIA host for tests: fake_nvml.c built as libnvidia-ml.so.1, reading the
GPUs a test describes from a state file, so the real pynvml code runs without a GPU.

Two ways to point pynvml at it:

- A subprocess: run it with ``env={**os.environ, **host.env()}``. Its pynvml does
  ``CDLL("libnvidia-ml.so.1")``, and the dynamic loader finds the fake on LD_LIBRARY_PATH.
- This process: ``host.activate(monkeypatch)`` (the ``fake_gpus`` fixture does it; outside
  a fixture use ``with pytest.MonkeyPatch.context() as mp: host.activate(mp)``). glibc
  reads LD_LIBRARY_PATH once, at process start, so setting it here would change nothing.
  Instead the fake is loaded by absolute path and installed as ``pynvml.nvmlLib``, which
  pynvml only loads itself while it is None; every pynvml function then runs unchanged.
"""

import ctypes
import functools
import hashlib
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

GiB = 1 << 30

_SOURCE = Path(__file__).with_name("fake_nvml.c")
_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "gpu_sim"
_LIBRARY = "libnvidia-ml.so.1"
_GCC = ["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", f"-Wl,-soname,{_LIBRARY}"]
_NUMBERS = ("total", "used", "util", "temp", "power")
_UNSUPPORTABLE = frozenset((*_NUMBERS, "procs"))


@dataclass(frozen=True)
class FakeGpu:
    """One GPU as the fake NVML reports it.

    processes / graphics_processes: (pid, used bytes) pairs; None bytes is NVML's "not
    available". state: "ok", "lost" (every call on it fails with GPU_IS_LOST) or
    "unknown" (with UNKNOWN). unsupported: queries that fail with NOT_SUPPORTED, from
    "total", "used" (either one: the memory query), "util", "temp", "power", "procs".
    failing: queries that fail with UNKNOWN, as a broken sensor does: those numbers, "name".
    """

    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    total: int = 80 * GiB
    used: int = 0
    util: int = 0
    temp: int = 35
    power: int = 70_000  # milliwatts
    processes: Sequence[tuple[int, int | None]] = ()
    graphics_processes: Sequence[tuple[int, int | None]] = ()
    state: str = "ok"
    unsupported: frozenset[str] = frozenset()
    failing: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if unknown := set(self.unsupported) - _UNSUPPORTABLE:
            raise ValueError(f"unsupported= takes {sorted(_UNSUPPORTABLE)}, not {sorted(unknown)}")
        if unknown := set(self.failing) - {*_NUMBERS, "name"}:
            raise ValueError(f"failing= takes {sorted({*_NUMBERS, 'name'})}, not {sorted(unknown)}")
        if any(c.isspace() for c in self.uuid) or '"' in self.name:
            raise ValueError(f"the state file cannot hold uuid {self.uuid!r} / name {self.name!r}")

    def state_lines(self) -> list[str]:
        keys = [
            f"{key}={'notsupported' if key in self.unsupported else 'unknown' if key in self.failing else getattr(self, key)}" for key in _NUMBERS
        ]
        if "procs" in self.unsupported:
            keys.append("procs=notsupported")
        if "name" in self.failing:
            keys.append("name=unknown")
        lines = [f'gpu {self.uuid} "{self.name}" {" ".join(keys)} state={self.state}']
        for kind, processes in (("compute", self.processes), ("graphics", self.graphics_processes)):
            lines += [f"proc {self.uuid} pid={pid} used={'na' if used is None else used} kind={kind}" for pid, used in processes]
        return lines


@functools.cache
def build_library() -> Path:
    """The fake built as libnvidia-ml.so.1, alone in its directory (LD_LIBRARY_PATH names
    the directory). The directory is named by a hash of source and flags, so an edited
    source is rebuilt and concurrent test processes never overwrite a library in use."""
    source = _SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join(_GCC).encode()).hexdigest()[:16]
    library = _CACHE / key / _LIBRARY
    if not library.exists():
        library.parent.mkdir(parents=True, exist_ok=True)
        partial = library.with_name(f".{_LIBRARY}.{os.getpid()}")
        gcc = subprocess.run(
            [*_GCC, "-o", str(partial), "-x", "c", "-", "-lpthread"],
            input=source,
            capture_output=True,
        )
        if gcc.returncode != 0:
            raise RuntimeError(f"building {_SOURCE.name} failed:\n{gcc.stderr.decode()}")
        os.replace(partial, library)
    return library


class FakeGpuHost:
    """The fake library plus the state file it reads, in `directory`. `driver` None
    leaves the driver version out (NVML then answers NOT_SUPPORTED for it)."""

    def __init__(self, directory: Path, gpus: Iterable[FakeGpu] = (), driver: str | None = "550.54.15") -> None:
        self.library = build_library()
        self.state_file = Path(directory) / "nvml-state"
        self.driver = driver
        self.update(gpus)

    def update(self, gpus: Iterable[FakeGpu]) -> None:
        """Describe the host's GPUs from now on. The file is replaced in one rename, so a
        process reading it at the same moment sees the old GPUs or the new, never half."""
        lines = [] if self.driver is None else [f"driver {self.driver}"]
        for gpu in gpus:
            lines += gpu.state_lines()
        partial = self.state_file.with_name(self.state_file.name + ".partial")
        partial.write_text("".join(f"{line}\n" for line in lines))
        os.replace(partial, self.state_file)

    def env(self) -> dict[str, str]:
        """The variables that make a child process's pynvml load the fake and read this host."""
        search_path = [str(self.library.parent), os.environ.get("LD_LIBRARY_PATH", "")]
        return {
            "LD_LIBRARY_PATH": os.pathsep.join(filter(None, search_path)),
            "FAKE_NVML_STATE": str(self.state_file),
        }

    def activate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make this process's pynvml use the fake until monkeypatch undoes it."""
        import pynvml

        monkeypatch.setenv("FAKE_NVML_STATE", str(self.state_file))
        monkeypatch.setattr(pynvml, "nvmlLib", ctypes.CDLL(str(self.library)))
        # pynvml caches every function it looks up, module-wide: an empty cache on the
        # way in and the old one back on the way out keeps tests from calling into a
        # library another test (or the real driver) installed.
        monkeypatch.setattr(pynvml, "_nvmlGetFunctionPointer_cache", {})
