"""The unrecorded-runs spool: runs an agent could not write to the history database
(runs/recorder.py appends them, one JSON record a line), waiting for the next store that
opens the database for writing to add them.

A line that cannot be read back (a disk-full append leaves it truncated; a record written
by another version has fields this one does not know) is never dropped and never stops
the rest: it is set aside, as it was, in the rejected file beside the spool, which
`gpuagent doctor` reports.
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gpuagent.runs.record import RunRecord


def spool_path(database: Path) -> Path:
    """Where runs wait that could not be written to `database`."""
    return database.with_name("unrecorded.jsonl")


def rejected_path(database: Path) -> Path:
    """Where spooled lines that could not be read back are kept for a person to look at."""
    return database.with_name("unrecorded.rejected.jsonl")


@contextmanager
def taken_runs(database: Path) -> Iterator[list[RunRecord]]:
    """The runs waiting in the spool, for the block to save. The spool is renamed first,
    so a line appended meanwhile waits for the next replay, and two processes never
    replay the same lines. If the block fails, its runs go back into the spool."""
    spool = spool_path(database)
    taken = spool.with_name(f"{spool.name}.{os.getpid()}")
    try:
        spool.rename(taken)
    except FileNotFoundError:
        yield []  # nothing waiting, or another process is replaying it
        return
    runs, good, bad = [], [], []
    for line in taken.read_bytes().splitlines(keepends=True):
        if not line.strip():
            continue
        run = _parsed(line)
        if run is None:
            bad.append(line)
        else:
            good.append(line)
            runs.append(run)
    unsaved = good + bad
    try:
        _append(rejected_path(database), bad)
        unsaved = good
        yield runs
    except BaseException:
        # Back into the spool for the next store to open; should even that fail, the
        # taken file stays on disk.
        _append(spool, unsaved)
        taken.unlink()
        raise
    taken.unlink()


def _parsed(line: bytes) -> RunRecord | None:
    try:
        fields = json.loads(line)
        fields["gpu_uuids"] = tuple(fields["gpu_uuids"])
        run = RunRecord(**fields)
    except (ValueError, TypeError, KeyError):  # not JSON (a truncated line), not a record
        return None
    # The columns history cannot store without: a record lacking them would fail the
    # whole replay at every open.
    if not (isinstance(run.run_id, str) and isinstance(run.job, str) and isinstance(run.status, str)):
        return None
    return run if isinstance(run.started_at, int | float) else None


def _append(path: Path, lines: list[bytes]) -> None:
    if lines:
        with open(path, "ab") as handle:
            handle.writelines(line if line.endswith(b"\n") else line + b"\n" for line in lines)
