"""gpuagent logs: the journal of a job's runs, or of one run; or of a notebook's; or of a
queued run's (each has a unit of its own: the newest of the name's, or --run's)."""

from collections.abc import Iterator
from datetime import datetime

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.core.paths import Paths
from gpuagent.host.historydb import existing_history, get_run
from gpuagent.host.systemd import Systemd, notebook_unit_name, queued_unit_name, service_unit_name
from gpuagent.runs.record import RunKind, kind_of, parse_subject


def job_logs(
    paths: Paths,
    name: str,
    run_id: str | None = None,
    lines: int | None = None,
    since: datetime | None = None,
    follow: bool = False,
) -> Iterator[str]:
    """The journal's lines, as journalctl prints them, while it prints them: with
    `follow` the stream goes on until it is closed. `name` is a job's, a notebook's
    `notebook/NAME` or a queued run's `queue/NAME`."""
    kind = kind_of(parse_subject(name))
    if kind == RunKind.SHELL:
        raise InvalidInput(f"{name}: a shell's output goes to its terminal, not the journal", f"see `gpuagent history {name}` for its sessions")
    if kind == RunKind.QUEUED:
        return _queued_logs(paths, name, run_id, lines, since, follow)
    unit = notebook_unit_name(name.partition("/")[2]) if kind == RunKind.NOTEBOOK else service_unit_name(name)
    invocation_id = None
    if run_id is not None:
        run = get_run(paths, run_id)
        if run.job != name:
            raise NotFound(f"no run {run_id!r} of job {name!r}", f"see `gpuagent history {name}` for its run ids")
        if not run.invocation_id:
            raise NotFound(
                f"run {run_id} was started by hand, not by systemd: its output went to that terminal",
                f"use `gpuagent trigger {name}` to run through systemd and keep the output in the journal",
            )
        invocation_id = run.invocation_id
    systemd = Systemd(paths.user_mode)
    return systemd.stream(systemd.journal_command(unit, invocation_id, lines, since, follow))


def _queued_logs(paths: Paths, name: str, run_id: str | None, lines: int | None, since: datetime | None, follow: bool) -> Iterator[str]:
    """A queued run's unit is named by its entry (its first run's id): every start of it,
    preempted and resumed, is in that unit's journal."""
    if run_id is not None:
        run = get_run(paths, run_id)
        if run.job != name:
            raise NotFound(f"no run {run_id!r} of {name!r}", f"see `gpuagent history {name}` for its run ids")
    else:
        with existing_history(paths) as store:
            newest = [] if store is None else store.runs(name, 1)
        if not newest:
            raise NotFound(f"no run of {name!r} in history yet", "see `gpuagent queue` for the runs still waiting")
        run = newest[0]
    systemd = Systemd(paths.user_mode)
    unit = queued_unit_name(run.first_run_id or run.run_id)
    return systemd.stream(systemd.journal_command(unit, run.invocation_id if run_id else None, lines, since, follow))
