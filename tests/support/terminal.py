"""A real terminal for tests: tmux, on a server of its own (-L), one pane of a given size
running one command. Keys go in with send-keys, the screen comes back with capture-pane,
and the pane's state (alternate screen, cursor) with display-message."""

import os
import shlex
import subprocess
import uuid
from pathlib import Path

from tests.support.agent import wait_for

EXITED = "[gpuagent exited"  # the pane's line once the command ended: `[gpuagent exited N]`
SETTINGS_SHOWN = "[stty -a done]"  # the pane's line after the settings the command left


class Tmux:
    """`command` in a `width`x`height` pane; its stderr goes to a file, and once it exits
    the pane says `[gpuagent exited N]`, then shows the terminal's settings as the
    command left them (`stty -a`, then SETTINGS_SHOWN), and stays open."""

    def __init__(self, tmp_path: Path, env: dict[str, str], command: list[str], *, width: int = 120, height: int = 40) -> None:
        self.socket = f"gpuagent-test-{uuid.uuid4().hex[:12]}"
        self.session = "test"
        self.stderr = tmp_path / f"{self.socket}.stderr"
        line = f'{shlex.join(command)} 2>{shlex.quote(str(self.stderr))}; echo "{EXITED} $?]"; stty -a; echo "{SETTINGS_SHOWN}"; exec sleep 600'
        # The server is started by this command, so it (and the pane) gets `env`.
        self._env = {key: value for key, value in env.items() if key not in ("TMUX", "TMUX_PANE")}
        self.tmux("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height), line)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], env=self._env, capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr}"
        return done.stdout

    def keys(self, *keys: str) -> None:
        """Press keys, as tmux names them: q, C-c, Enter."""
        self.tmux("send-keys", "-t", self.session, *keys)

    def type(self, text: str) -> None:
        """Type `text` and Enter."""
        self.tmux("send-keys", "-t", self.session, "-l", text)
        self.keys("Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def pane(self, variable: str) -> str:
        """A tmux format variable of the pane: alternate_on, cursor_flag, pane_width..."""
        return self.tmux("display-message", "-p", "-t", self.session, f"#{{{variable}}}").strip()

    def wait_screen(self, text: str, timeout: float = 15) -> str:
        """The screen once it shows `text`; fails at once if the command exited first."""

        def shown() -> str | None:
            screen = self.screen()
            if text in screen:
                return screen
            if EXITED in screen:
                raise AssertionError(f"gpuagent exited before {text!r} showed")
            return None

        try:
            return wait_for(shown, timeout=timeout, what=repr(text))
        except AssertionError as err:
            raise AssertionError(f"{err}; the screen:\n{self.screen()}\nthe agent's stderr:\n{self.agent_stderr()}") from None

    def wait_exited(self, timeout: float = 15) -> str:
        """The screen once the command has exited and the terminal's settings it left
        are shown."""

        def ended() -> str | None:
            screen = self.screen()
            return screen if SETTINGS_SHOWN in screen else None

        try:
            return wait_for(ended, timeout=timeout, what="the command to exit")
        except AssertionError as err:
            raise AssertionError(f"{err}; the screen:\n{self.screen()}\nthe agent's stderr:\n{self.agent_stderr()}") from None

    def agent_stderr(self) -> str:
        return self.stderr.read_text() if self.stderr.exists() else ""

    def kill_session(self) -> None:
        """Close the terminal, as closing its window does (its processes get SIGHUP)."""
        self.tmux("kill-session", "-t", self.session)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self._env, capture_output=True, timeout=20)
        # tmux leaves its socket file behind
        (Path(self._env.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / self.socket).unlink(missing_ok=True)
