"""The host-wide settings of gpuagent, in the config directory's gpuagent.toml (optional:
every key has a default). Only what is the same for every job lives here: where metrics
and dcgm-exporter's job mapping go, how long a notification may take, and the queue's
rules.

    [metrics]
    textfile_dir = "/var/lib/prometheus/node-exporter"   # node_exporter's --collector.textfile.directory
    enabled = true                                        # false: write no metrics files
    [dcgm]
    hpc_job_mapping_dir = "/run/gpuagent/hpc-jobs"        # dcgm-exporter's --hpc-job-mapping-dir
    [notify]
    timeout = 10                                          # seconds a notification or ping may take
    [queue]
    starvation_bound = "30m"     # once the queue's head has waited this long, GPUs that free up are held for it
    max_gpus_per_submitter = 4   # at most this many GPUs held at once by one submitter's queued runs (default: no cap)
"""

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.core.quantities import format_duration, parse_duration

DEFAULT_NOTIFY_TIMEOUT = 10.0
MAX_NOTIFY_TIMEOUT = 300.0
DEFAULT_STARVATION_BOUND = 30 * 60
MAX_STARVATION_BOUND = 7 * 86400
MAX_GPUS_PER_SUBMITTER = 1024


@dataclass(frozen=True)
class HostConfig:
    textfile_dir: Path
    # False for the default directory: metrics files are written there only if it exists
    # (node_exporter is installed); a directory the file names is created.
    textfile_dir_chosen: bool
    metrics_enabled: bool
    hpc_job_mapping_dir: Path
    notify_timeout: float
    starvation_bound: int  # seconds
    max_gpus_per_submitter: int | None  # None: no cap

    def metrics_dir(self) -> Path | None:
        """Where metrics files go, or None: switched off, or the default directory is not there."""
        if not self.metrics_enabled:
            return None
        return self.textfile_dir if self.textfile_dir_chosen or self.textfile_dir.is_dir() else None


_KEYS = {
    "metrics": {"textfile_dir", "enabled"},
    "dcgm": {"hpc_job_mapping_dir"},
    "notify": {"timeout"},
    "queue": {"starvation_bound", "max_gpus_per_submitter"},
}


def read_host_config(paths: Paths) -> HostConfig:
    path = paths.host_config
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    except OSError as err:
        raise InvalidInput(f"cannot read {path}: {err.strerror}", "make it readable, or remove it to use the defaults") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"{path}: not valid TOML: {err}", "fix the file (docs/monitoring.md)") from None
    _check_keys(document, path)
    textfile = document.get("metrics", {}).get("textfile_dir")
    hpc = document.get("dcgm", {}).get("hpc_job_mapping_dir")
    timeout = document.get("notify", {}).get("timeout", DEFAULT_NOTIFY_TIMEOUT)
    enabled = document.get("metrics", {}).get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput(f"{path}: metrics.enabled must be true or false, got {enabled!r}", "enabled = false")
    return HostConfig(
        textfile_dir=_directory(textfile, "metrics.textfile_dir", path) if textfile is not None else paths.textfile_dir,
        textfile_dir_chosen=textfile is not None,
        metrics_enabled=enabled,
        hpc_job_mapping_dir=_directory(hpc, "dcgm.hpc_job_mapping_dir", path) if hpc is not None else paths.runtime_dir / "hpc-jobs",
        notify_timeout=_timeout(timeout, path),
        starvation_bound=_starvation_bound(document.get("queue", {}).get("starvation_bound"), path),
        max_gpus_per_submitter=_gpu_cap(document.get("queue", {}).get("max_gpus_per_submitter"), path),
    )


def _check_keys(document: dict, path: Path) -> None:
    for section, value in document.items():
        if section not in _KEYS:
            raise InvalidInput(f"{path}: unknown section [{section}]", f"the sections are {', '.join(f'[{name}]' for name in _KEYS)}")
        if not isinstance(value, dict):
            raise InvalidInput(f"{path}: {section} must be a table", f"write it as [{section}] followed by its keys")
        unknown = sorted(set(value) - _KEYS[section])
        if unknown:
            raise InvalidInput(f"{path}: unknown key {section}.{unknown[0]}", f"[{section}] takes {', '.join(sorted(_KEYS[section]))}")


def _directory(value: object, key: str, path: Path) -> Path:
    if not isinstance(value, str) or not value.startswith("/") or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"{path}: {key} must be an absolute directory path, got {value!r}", f'for example {key.split(".")[1]} = "/var/lib/x"')
    return Path(value)


def _timeout(value: object, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not 0 < value <= MAX_NOTIFY_TIMEOUT:
        raise InvalidInput(
            f"{path}: notify.timeout must be a number of seconds above 0 and at most {MAX_NOTIFY_TIMEOUT:g}, got {value!r}", "timeout = 10"
        )
    return float(value)


def _starvation_bound(value: object, path: Path) -> int:
    if value is None:
        return DEFAULT_STARVATION_BOUND
    example = 'starvation_bound = "30m"'
    if not isinstance(value, str):
        raise InvalidInput(f"{path}: queue.starvation_bound must be a duration in a string, got {value!r}", example)
    try:
        seconds = parse_duration(value, option="queue.starvation_bound")
    except InvalidInput as err:
        raise InvalidInput(f"{path}: {err.message}", example) from None
    if seconds > MAX_STARVATION_BOUND:
        raise InvalidInput(f"{path}: queue.starvation_bound {value!r} is longer than {format_duration(MAX_STARVATION_BOUND)}", example)
    return seconds


def _gpu_cap(value: object, path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_GPUS_PER_SUBMITTER:
        raise InvalidInput(
            f"{path}: queue.max_gpus_per_submitter must be a whole number of GPUs from 1 to {MAX_GPUS_PER_SUBMITTER}, got {value!r}",
            "max_gpus_per_submitter = 4 (or leave it out: no cap)",
        )
    return value
