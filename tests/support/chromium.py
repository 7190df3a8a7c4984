"""Debian's Chromium, headless, as a test's browser: the DOM after load, what the page
said on its console (script errors, refused loads), and a screenshot. Every fetch off
the machine fails: no proxy answers and no name resolves, so a page that looks for
anything outside itself shows it on the console."""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

HINT = "install it with `sudo tests/setup-host.sh` (Debian's chromium package)"
# As root Chromium needs --no-sandbox; it has no GPU, display or D-Bus here.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr",
    "--v=0",
]
# '[...:INFO:CONSOLE:12] "Uncaught ReferenceError: ...", source: file:///... (12)'
CONSOLE_LINE = re.compile(r':CONSOLE(?:\(\d+\))?:?\d*\] "(.*)", source:')


@dataclass(frozen=True)
class Loaded:
    dom: str  # the document after load, serialised
    console: list[str]  # what the page logged: script errors, loads its policy refused


def executable() -> str | None:
    return shutil.which("chromium")


def load(page: Path, profile: Path, timeout: float = 60) -> Loaded:
    """Open `page` (file://), wait for its load, and return its DOM and console."""
    result = _chromium(["--dump-dom", page.absolute().as_uri()], profile, timeout)
    return Loaded(result.stdout, [match[1] for match in CONSOLE_LINE.finditer(result.stderr)])


def screenshot(page: Path, png: Path, profile: Path, width: int = 1200, height: int = 1600, timeout: float = 60) -> None:
    """A PNG of the page's top `height` pixels in a window `width` wide."""
    _chromium([f"--screenshot={png}", f"--window-size={width},{height}", page.absolute().as_uri()], profile, timeout)


def png_size(png: Path) -> tuple[int, int]:
    """Width and height, from the PNG's header."""
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _chromium(args: list[str], profile: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    binary = executable()
    assert binary, f"chromium is not installed: {HINT}"
    command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
    return result
