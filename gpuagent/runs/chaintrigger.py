"""The note a succeeding run leaves for the run of a job that follows it (--after).

systemd starts a unit with no arguments, so the upstream run writes which run it was
into a file named by the follower, then starts the follower's service; the follower's
run takes the note (reads and removes it) under its job's lock.
"""

import json
from pathlib import Path

from gpuagent.core.paths import Paths
from gpuagent.host.files import write_atomic


def leave(paths: Paths, follower: str, upstream_job: str, upstream_run_id: str) -> None:
    write_atomic(_note(paths, follower), json.dumps({"job": upstream_job, "run_id": upstream_run_id}) + "\n", mode=0o600)


def withdraw(paths: Paths, follower: str) -> None:
    """Take back a note whose follower could not be started."""
    _note(paths, follower).unlink(missing_ok=True)


def take(paths: Paths, follower: str) -> tuple[str, str] | None:
    """The upstream job and run id left for `follower`, removed; None when there is none
    (or it cannot be read: the run then simply runs unchained)."""
    note = _note(paths, follower)
    try:
        text = note.read_text()
    except OSError:
        return None
    note.unlink(missing_ok=True)
    try:
        document = json.loads(text)
        return str(document["job"]), str(document["run_id"])
    except (ValueError, KeyError, TypeError):
        return None


def _note(paths: Paths, follower: str) -> Path:
    return paths.runtime_dir / "after" / f"{follower}.json"
