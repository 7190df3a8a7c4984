"""gpuagent history: past runs, newest first, or one run in full; each with what was
sent about it (notifications and pings, and whether they arrived)."""

from dataclasses import dataclass
from datetime import datetime

from gpuagent.commands.common import get_run
from gpuagent.errors import InvalidInput
from gpuagent.host.history import existing_history
from gpuagent.model.notify import Notification
from gpuagent.model.run import RunRecord, Status
from gpuagent.paths import Paths


@dataclass(frozen=True)
class RunHistory:
    runs: list[RunRecord]
    notifications: dict[str, list[Notification]]  # by run id, oldest first; a run that sent none is absent


@dataclass(frozen=True)
class RunInFull:
    run: RunRecord
    notifications: list[Notification]


def list_runs(paths: Paths, name: str | None, limit: int, status: str | None = None, since: datetime | None = None) -> RunHistory:
    if name is not None:
        from gpuagent.model.values import parse_name  # imported only when a name is given

        parse_name(name)
    if status is not None and status not in set(Status):
        raise InvalidInput(f"--status: unknown status {status!r}", f"use one of: {', '.join(Status)}")
    with existing_history(paths) as store:
        if store is None:
            return RunHistory([], {})
        runs = store.runs(name, limit, status=status, since=None if since is None else since.timestamp())
        return RunHistory(runs, store.notifications_of([run.run_id for run in runs]))


def run_in_full(paths: Paths, run_id: str) -> RunInFull:
    run = get_run(paths, run_id)
    with existing_history(paths) as store:
        notifications = store.notifications_of([run_id]).get(run_id, []) if store else []
    return RunInFull(run, notifications)
