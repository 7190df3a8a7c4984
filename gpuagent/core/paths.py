"""Where gpuagent keeps things. One Paths object decides for every module.

System mode (root): jobs in /etc/gpuagent/jobs, units in /etc/systemd/system (and the
shipped units, when a package installed them, in /usr/lib/systemd/system), history in
/var/lib/gpuagent, locks in /run/gpuagent. User mode (--user): the XDG directories and
the user's systemd manager. Each directory can be overridden by an environment variable,
which is how tests point gpuagent at a scratch tree.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from gpuagent.core.values import parse_name

ENV_USER_MODE = "GPUAGENT_USER"
ENV_OVERRIDES = {
    "config_dir": "GPUAGENT_CONFIG_DIR",
    "unit_dir": "GPUAGENT_UNIT_DIR",
    "state_dir": "GPUAGENT_STATE_DIR",
    "runtime_dir": "GPUAGENT_RUNTIME_DIR",
    "textfile_dir": "GPUAGENT_TEXTFILE_DIR",
    "run_files_dir": "GPUAGENT_RUN_FILES_DIR",
}
ENV_PACKAGE_UNIT_DIR = "GPUAGENT_PACKAGE_UNIT_DIR"
# Debian's prometheus-node-exporter reads it (built in); tarball installs often use
# /var/lib/node_exporter/textfile_collector (set [metrics] textfile_dir then).
DEBIAN_TEXTFILE_DIR = Path("/var/lib/prometheus/node-exporter")


@dataclass(frozen=True)
class Paths:
    user_mode: bool
    config_dir: Path
    unit_dir: Path
    state_dir: Path
    runtime_dir: Path
    # Where node_exporter is expected to read metrics files: gpuagent writes there only if
    # it exists, unless the host config names a directory (host/hostconfig.py).
    textfile_dir: Path
    # Each run's own files (host/runfiles.py), bind-mounted into its container: a path
    # dockerd resolves on its host, so it must be the same path there.
    run_files_dir: Path
    # Where a package puts its units (Debian policy: /usr/lib/systemd/system); unit_dir's
    # files override it, as they do for systemd. None in user mode.
    package_unit_dir: Path | None = None

    @property
    def jobs_dir(self) -> Path:
        return self.config_dir / "jobs"

    @property
    def host_config(self) -> Path:
        """Host-wide settings (host/hostconfig.py); optional."""
        return self.config_dir / "gpuagent.toml"

    @property
    def host_notify_file(self) -> Path:
        """Notification URLs for every job (observe/notifications.py); optional, 0600: URLs hold tokens."""
        return self.config_dir / "notify.toml"

    @property
    def notify_dir(self) -> Path:
        """Each job's notification URLs and ping, 0700: not beside the 0644 job files."""
        return self.config_dir / "notify"

    # Each path made of a name reads the name first, wherever it came from (argv, a file's
    # header, a job's --like, the history): `../x` or 300 characters is one line of error,
    # never a path outside the directory or an OSError.

    def notify_file(self, name: str) -> Path:
        """A job's, or another run's by its `KIND/NAME` (a submitted run's `queue/NAME`):
        each part read as a name, so the file is always inside notify_dir."""
        kind, separator, own = name.partition("/")
        if separator:
            return self.notify_dir / parse_name(kind, "run kind") / f"{parse_name(own)}.toml"
        return self.notify_dir / f"{parse_name(name)}.toml"

    @property
    def history_db(self) -> Path:
        return self.state_dir / "history.db"

    @property
    def elapse_cache(self) -> Path:
        """The next fires of each calendar, kept between metrics writes (host/calendar.py)."""
        return self.state_dir / "next-fires.json"

    @property
    def queue_db(self) -> Path:
        """The runs submitted and not yet ended (host/queuedb.py): state that outlives a reboot."""
        return self.state_dir / "queue.db"

    @property
    def queue_lock(self) -> Path:
        """Held by the one dispatcher at work (queue/dispatch.py)."""
        return self.runtime_dir / "queue.lock"

    def job_file(self, name: str) -> Path:
        return self.jobs_dir / f"{parse_name(name)}.toml"

    def timer_file(self, name: str) -> Path:
        return self.unit_dir / f"gpuagent@{parse_name(name)}.timer"

    def unit_file(self, unit: str) -> Path:
        """Where gpuagent writes one of the units it ships (jobs/units.py), by its file
        name, when systemd has none."""
        return self.unit_dir / unit

    def unit_places(self, unit: str) -> tuple[Path, ...]:
        """Where systemd finds a unit gpuagent ships, the one that wins first."""
        package = () if self.package_unit_dir is None else (self.package_unit_dir / unit,)
        return (self.unit_file(unit), *package)

    @property
    def hpc_jobs_lock(self) -> Path:
        """Held while dcgm-exporter's job mapping files change (host/hpcjobs.py)."""
        return self.runtime_dir / "hpc-jobs.lock"

    def job_lock(self, name: str) -> Path:
        return self.runtime_dir / f"job-{parse_name(name)}.lock"

    @property
    def notebooks_dir(self) -> Path:
        """The settings of each notebook started and not yet ended, 0700: they hold its
        token. Runtime state: a notebook does not outlive a reboot."""
        return self.runtime_dir / "notebooks"

    def notebook_file(self, name: str) -> Path:
        return self.notebooks_dir / f"{parse_name(name, 'notebook name')}.json"

    def notebook_lock(self, name: str) -> Path:
        """Held by the notebook's agent while it runs."""
        return self.runtime_dir / f"notebook-{parse_name(name, 'notebook name')}.lock"


def _user_dir(env: dict[str, str], xdg_var: str, default: str) -> Path:
    base = env.get(xdg_var) or str(Path(env.get("HOME", "~")).expanduser() / default)
    return Path(base)


def resolve_paths(user_mode: bool | None = None, env: dict[str, str] | None = None) -> Paths:
    """Paths for this process. user_mode None means: --user when not root, or when
    GPUAGENT_USER=1 is set."""
    env = dict(os.environ if env is None else env)
    if user_mode is None:
        user_mode = env.get(ENV_USER_MODE) == "1" or os.geteuid() != 0
    if user_mode:
        runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
        defaults = {
            "config_dir": _user_dir(env, "XDG_CONFIG_HOME", ".config") / "gpuagent",
            "unit_dir": _user_dir(env, "XDG_CONFIG_HOME", ".config") / "systemd" / "user",
            "state_dir": _user_dir(env, "XDG_STATE_HOME", ".local/state") / "gpuagent",
            "runtime_dir": Path(runtime) / "gpuagent",
            "textfile_dir": _user_dir(env, "XDG_STATE_HOME", ".local/state") / "gpuagent" / "metrics",
        }
    else:
        defaults = {
            "config_dir": Path("/etc/gpuagent"),
            "unit_dir": Path("/etc/systemd/system"),
            "state_dir": Path("/var/lib/gpuagent"),
            "runtime_dir": Path("/run/gpuagent"),
            "textfile_dir": DEBIAN_TEXTFILE_DIR,
        }
    defaults["run_files_dir"] = Path(env.get(ENV_OVERRIDES["runtime_dir"]) or defaults["runtime_dir"]) / "runs"
    chosen = {key: Path(env[var]) if env.get(var) else defaults[key] for key, var in ENV_OVERRIDES.items()}
    package_unit_dir = None if user_mode else Path(env.get(ENV_PACKAGE_UNIT_DIR) or "/usr/lib/systemd/system")
    return Paths(user_mode=user_mode, package_unit_dir=package_unit_dir, **chosen)
