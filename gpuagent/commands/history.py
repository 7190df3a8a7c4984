"""gpuagent history: past runs, newest first, or one run in full."""

from datetime import datetime

from gpuagent.commands.common import existing_history
from gpuagent.errors import InvalidInput
from gpuagent.model.run import RunRecord, Status
from gpuagent.paths import Paths


def list_runs(paths: Paths, name: str | None, limit: int, status: str | None = None, since: datetime | None = None) -> list[RunRecord]:
    if name is not None:
        from gpuagent.model.values import parse_name  # imported only when a name is given

        parse_name(name)
    if status is not None and status not in set(Status):
        raise InvalidInput(f"--status: unknown status {status!r}", f"use one of: {', '.join(Status)}")
    with existing_history(paths) as store:
        if store is None:
            return []
        return store.runs(name, limit, status=status, since=None if since is None else since.timestamp())
