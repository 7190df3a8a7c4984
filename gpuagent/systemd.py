"""The only module that runs systemctl and journalctl."""

import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from gpuagent.errors import SystemdError


def timer_unit_name(job: str) -> str:
    return f"gpuagent@{job}.timer"


def service_unit_name(job: str) -> str:
    return f"gpuagent@{job}.service"


class Systemd:
    """systemctl/journalctl for the system manager, or with --user for the user's."""

    def __init__(self, user_mode: bool) -> None:
        self.scope = ["--user"] if user_mode else []

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        if shutil.which(tool) is None:
            raise SystemdError(f"{tool} not found: gpuagent needs systemd", "run gpuagent on a host booted with systemd")
        result = subprocess.run([tool, *self.scope, *args], capture_output=True, text=True)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise SystemdError(
                f"{tool} {' '.join(args)} failed: {detail[-1] if detail else f'exit {result.returncode}'}",
                "is systemd running here? (`systemctl is-system-running`)",
            )
        return result

    def require_running(self) -> None:
        """Fail before anything is written when there is no systemd to hand units to."""
        if not self.scope and not Path("/run/systemd/system").is_dir():
            raise SystemdError(
                "systemd is not running on this host (/run/systemd/system is missing)",
                "gpuagent schedules jobs with systemd timers; use a host booted with systemd",
            )

    def daemon_reload(self) -> None:
        self._run("systemctl", "daemon-reload")

    def enable_now(self, unit: str) -> None:
        self._run("systemctl", "enable", "--now", unit)

    def disable_now(self, unit: str) -> None:
        self._run("systemctl", "disable", "--now", unit)

    def start(self, unit: str) -> None:
        """Start without waiting for the unit to finish (a run can take hours)."""
        self._run("systemctl", "start", "--no-block", unit)

    def is_enabled(self, unit: str) -> bool:
        return self._run("systemctl", "is-enabled", unit, check=False).stdout.strip() == "enabled"

    def next_elapse(self, timer: str) -> datetime | None:
        value = self._run("systemctl", "show", "-P", "NextElapseUSecRealtime", "--timestamp=unix", timer).stdout.strip()
        if not value.startswith("@"):
            return None
        return datetime.fromtimestamp(int(value[1:]), tz=timezone.utc).astimezone()

    def journal(self, unit: str, invocation_id: str | None = None, lines: int | None = None) -> str:
        args = ["-u", unit, "--no-pager", "-o", "short-iso"]
        if invocation_id:
            args.append(f"_SYSTEMD_INVOCATION_ID={invocation_id}")
        if lines:
            args += ["-n", str(lines)]
        return self._run("journalctl", *args).stdout
