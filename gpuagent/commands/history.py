"""gpuagent history: past runs, newest first, or one run in full."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from gpuagent.errors import InvalidInput, NotFound
from gpuagent.history import HistoryStore, RunRecord
from gpuagent.outcome import Status
from gpuagent.paths import Paths


@contextmanager
def existing_history(paths: Paths) -> Iterator[HistoryStore | None]:
    """The history store, or None where no run was ever recorded: a view does not create it."""
    if not paths.history_db.exists():
        yield None
        return
    with HistoryStore(paths.history_db) as store:
        yield store


def list_runs(
    paths: Paths, name: str | None, limit: int, status: str | None = None, since: datetime | None = None
) -> list[RunRecord]:
    if name is not None:
        from gpuagent.jobs import (
            validate_name,  # jobs.py and its parsers take ~30 ms to import
        )

        validate_name(name)
    if status is not None and status not in set(Status):
        raise InvalidInput(f"--status: unknown status {status!r}", f"use one of: {', '.join(Status)}")
    with existing_history(paths) as store:
        if store is None:
            return []
        return store.runs(name, limit, status=status, since=None if since is None else since.timestamp())


def get_run(paths: Paths, run_id: str) -> RunRecord:
    with existing_history(paths) as store:
        run = None if store is None else store.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} in history", "see `gpuagent history` for run ids")
    return run
