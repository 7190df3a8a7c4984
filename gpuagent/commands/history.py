"""gpuagent history: past runs, newest first."""

from gpuagent.history import HistoryStore, RunRecord
from gpuagent.jobs import validate_name
from gpuagent.paths import Paths


def list_runs(paths: Paths, name: str | None, limit: int) -> list[RunRecord]:
    if name is not None:
        validate_name(name)
    if not paths.history_db.exists():
        return []
    with HistoryStore(paths.history_db) as store:
        return store.runs(name, limit)
