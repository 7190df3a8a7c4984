"""Each run's own directory on the host, bind-mounted into its container, and removed
when the run ends:

  RUN_FILES_DIR/JOB/RUN_ID/out   read-write at /gpuagent/out: the run writes metrics.json
  RUN_FILES_DIR/JOB/RUN_ID/in    read-only at /gpuagent/in: the numbers of the run that
                                 started it (--after), when one did

The container's user is not known on the host (a name in the image, or nobody), so out/
is writable by everyone; its parent directories are the agent's, and the run's id is
random. A run whose agent died leaves its directory behind: reaping the job removes it.
"""

import contextlib
import os
import shutil
from pathlib import Path

from gpuagent.core.paths import Paths
from gpuagent.host.files import NotPlainFile, read_plain_file
from gpuagent.runs.runmetrics import IN_DIR, MAX_BYTES, METRICS_FILE, OUT_DIR, Reported, Upstream, parse_reported, upstream_files


class RunFiles:
    def __init__(self, paths: Paths, job: str, run_id: str, upstream: Upstream | None) -> None:
        """Make the run's directory, with what its container is to read."""
        self.root = _job_dir(paths, job) / run_id
        self._out = self.root / "out"
        self._in = self.root / "in" if upstream is not None else None
        self._out.mkdir(parents=True, exist_ok=True)
        os.chmod(self._out, 0o777)
        if upstream is not None:
            self._in.mkdir(exist_ok=True)
            for name, text in upstream_files(upstream).items():
                (self._in / name).write_text(text)

    @property
    def volumes(self) -> dict[str, dict[str, str]]:
        """The directories as the create options' `volumes` mapping (host/dockerd.py)."""
        volumes = {str(self._out): {"bind": OUT_DIR, "mode": "rw"}}
        if self._in is not None:
            volumes[str(self._in)] = {"bind": IN_DIR, "mode": "ro"}
        return volumes

    def reported(self) -> Reported:
        """What the run wrote to its metrics file (Reported(None, None): no file). The
        container wrote it, as whoever it pleased: only a plain file is read."""
        try:
            data = read_plain_file(self._out / METRICS_FILE, MAX_BYTES + 1)
        except NotPlainFile as err:
            return Reported(None, f"metrics file is {err}, not a plain file: ignored")
        except OSError as err:
            return Reported(None, f"metrics file could not be read ({err.strerror or err}): ignored")
        return Reported(None, None) if data is None else parse_reported(data)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def remove_job_files(paths: Paths, job: str) -> None:
    """Remove what runs of `job` left behind. Only while holding the job's lock: then no
    live run owns any of it."""
    with contextlib.suppress(FileNotFoundError):
        for run_dir in _job_dir(paths, job).iterdir():
            shutil.rmtree(run_dir, ignore_errors=True)


def _job_dir(paths: Paths, job: str) -> Path:
    return paths.run_files_dir / job
