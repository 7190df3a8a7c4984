"""gpuagent cancel: take runs out of the queue. A waiting run leaves it (it never ran: history
has nothing of it); a running one is stopped through its unit, so that its agent stops
the container with its stop grace and records it `stopped`, as `systemctl stop` does."""

from dataclasses import dataclass

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.host.locks import flocked
from gpuagent.host.queuedb import QueueStore, existing_queue
from gpuagent.host.systemd import Systemd, queued_unit_name
from gpuagent.queue.entry import EntryState, QueueEntry
from gpuagent.runs.reservations import Reservations


@dataclass(frozen=True)
class Cancelled:
    entry: QueueEntry
    was_running: bool  # stopped (recorded `stopped`), rather than taken out while it waited


def cancel(paths: Paths, ids: list[str], group: str | None) -> list[Cancelled]:
    """Cancel the entries `ids` and those of sweep `group`; InvalidInput, nothing
    cancelled, when one of them is not in the queue."""
    if not ids and group is None:
        raise InvalidInput("name the runs to cancel", "gpuagent cancel RUN_ID..., or --group GROUP (see `gpuagent queue`)")
    store = existing_queue(paths)
    entries = [] if store is None else store.entries()
    if store is not None:
        store.close()
    by_id = {entry.id: entry for entry in entries}
    unknown = [run_id for run_id in ids if run_id not in by_id]
    if unknown:
        raise InvalidInput(f"no run {unknown[0]!r} in the queue", "see `gpuagent queue` for the ids of runs waiting or running")
    chosen = [by_id[run_id] for run_id in dict.fromkeys(ids)]
    if group is not None:
        members = [entry for entry in entries if entry.group_id == group]
        if not members:
            raise InvalidInput(f"no run of group {group!r} in the queue", "see `gpuagent queue` for the groups of sweeps waiting or running")
        chosen += [entry for entry in members if entry.id not in ids]
    systemd = Systemd(paths.user_mode)
    cancelled = []
    # Under the dispatcher's lock: a waiting entry is either taken out or started, never both.
    with flocked(paths.queue_lock, wait=True), QueueStore(paths.queue_db) as writable:
        running = []
        for entry in chosen:
            current = writable.get(entry.id)
            if current is None:
                continue  # it ended meanwhile
            if current.state != EntryState.RUNNING:
                # Waiting, or its unit is on its way up: its agent finds it gone and exits.
                writable.remove(entry.id)
            if current.waiting:
                cancelled.append(Cancelled(current, was_running=False))
            else:
                running.append(current)
    for entry in running:
        systemd.stop(queued_unit_name(entry.id))  # waits: the agent records the end first
        Reservations(paths.runtime_dir).release(entry.id)
        cancelled.append(Cancelled(entry, was_running=True))
    return cancelled
