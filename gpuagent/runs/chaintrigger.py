"""The note a succeeding run leaves for the run of a job that follows it (--after), and
the follower's pending start.

systemd starts a unit with no arguments, so the upstream run writes which run it was
into a file named by the follower, then starts the follower's service; the follower's
run takes the note (reads and removes it) under its job's lock.

A follower still running when its upstream succeeds cannot be started (systemd's start of
an active unit does nothing), so the upstream also leaves a pending mark beside the note.
When the follower's service stops, its ExecStopPost (`gpuagent reap`) takes the mark and
starts the service once more: the next run takes the newest note. There is one note and
one mark per follower, so however many successes come meanwhile, one start is pending.
Both live in the runtime directory: a reboot drops them, with the run they waited for.
"""

import json
from pathlib import Path

from gpuagent.core.paths import Paths
from gpuagent.host.files import write_atomic


def leave(paths: Paths, follower: str, upstream_job: str, upstream_run_id: str, *, pending_since: float | None = None) -> None:
    """The note for the follower's next run; with `pending_since` (when the upstream run
    succeeded), the follower is running, and its end is to start it once more."""
    note = {"job": upstream_job, "run_id": upstream_run_id, **({"pending_since": pending_since} if pending_since is not None else {})}
    write_atomic(_note(paths, follower), json.dumps(note) + "\n", mode=0o600)
    # The mark after the note: a run that takes the note before the mark is written
    # leaves a mark without a note, which starts nothing.
    if pending_since is not None:
        write_atomic(_mark(paths, follower), "", mode=0o600)


def withdraw(paths: Paths, follower: str) -> None:
    """Take back a note whose follower could not be started."""
    _note(paths, follower).unlink(missing_ok=True)
    _mark(paths, follower).unlink(missing_ok=True)


def take(paths: Paths, follower: str) -> tuple[str, str, float | None] | None:
    """The upstream job and run id left for `follower`, and since when its start was
    pending (None: it was not), removed with any pending mark; None when there is none
    (or it cannot be read: the run then simply runs unchained)."""
    note = _note(paths, follower)
    try:
        text = note.read_text()
    except OSError:
        return None
    note.unlink(missing_ok=True)
    _mark(paths, follower).unlink(missing_ok=True)
    try:
        document = json.loads(text)
        pending = document.get("pending_since")
        return str(document["job"]), str(document["run_id"]), float(pending) if pending is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def take_pending(paths: Paths, follower: str) -> bool:
    """Whether a start of `follower` is pending (its mark is removed: one start for it):
    a mark with its note still there, not yet taken by a run."""
    try:
        _mark(paths, follower).unlink()
    except OSError:
        return False
    return _note(paths, follower).is_file()


def _note(paths: Paths, follower: str) -> Path:
    return paths.runtime_dir / "after" / f"{follower}.json"


def _mark(paths: Paths, follower: str) -> Path:
    return paths.runtime_dir / "after" / f"{follower}.pending"
