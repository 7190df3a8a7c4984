"""gpuagent logs: the journal of a job's runs, or of one run; or of a notebook's."""

from collections.abc import Iterator
from datetime import datetime

from gpuagent.core.errors import InvalidInput, NotFound
from gpuagent.core.paths import Paths
from gpuagent.host.historydb import get_run
from gpuagent.host.systemd import Systemd, notebook_unit_name, service_unit_name
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
    `follow` the stream goes on until it is closed. `name` is a job's, or a notebook's
    `notebook/NAME`."""
    kind = kind_of(parse_subject(name))
    if kind == RunKind.SHELL:
        raise InvalidInput(f"{name}: a shell's output goes to its terminal, not the journal", f"see `gpuagent history {name}` for its sessions")
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
