"""gpuagent notebook start/stop/list: JupyterLab in a job's environment, as a systemd unit.

`start` decides everything (environment, port, token), writes it where the unit's agent
reads it, starts the unit and waits until the URL answers, or says why it never will.
The agent admits its GPU as a run's and records it (sessions/serving.py).
"""

import dataclasses
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpuagent.core.errors import GpuAgentError, InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.core.values import parse_name
from gpuagent.host.files import write_atomic
from gpuagent.host.historydb import existing_history
from gpuagent.host.jupyter import answers, bindable, free_port, ssh_login
from gpuagent.host.systemd import Systemd, notebook_unit_name
from gpuagent.jobs.catalog import load_job, verify_environment
from gpuagent.jobs.job import options_over
from gpuagent.jobs.units import missing_units
from gpuagent.runs.record import RunKind, RunRecord, subject
from gpuagent.sessions.jupyterlab import FIRST_PORT, Address, NotebookSpec, check_port, check_times
from gpuagent.sessions.live_notebooks import notebook_names, ports_taken, read_notebook, remove_notebook, write_notebook
from gpuagent.sessions.spec import file_form

DEFAULT_NAME = "lab"
READY_TIMEOUT_SECONDS = 180  # a first start of a big image on a busy disk
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class StartedNotebook:
    spec: NotebookSpec
    unit: str
    run: RunRecord | None  # as history has it once the URL answers
    seconds: float  # from the start to a URL that answers
    login: str  # how a laptop reaches this host by SSH: user@host


@dataclass(frozen=True)
class NotebookState:
    spec: NotebookSpec | None  # None: its file cannot be read by this user
    name: str
    active: bool  # its unit is running
    run: RunRecord | None  # its newest run in history

    @property
    def address(self) -> Address | None:
        return None if self.spec is None else self.spec.address


def start_notebook(
    paths: Paths,
    name: str | None,
    like: str | None,
    options: Mapping[str, Any],
    *,
    idle_timeout: int,
    max_time: int,
    port: int | None,
) -> StartedNotebook:
    """`options` map session fields (sessions/spec.py) to their values as a job file
    holds them; those given win over the --like job's."""
    # both read before anything else: --like names a job file, NAME the notebook's files
    like = None if like is None else parse_name(like, "--like job name")
    name = parse_name(name if name is not None else like or DEFAULT_NAME, "notebook name")
    check_times(idle_timeout, max_time)
    systemd = Systemd(paths.user_mode)
    systemd.require_running()
    unit = notebook_unit_name(name)
    before = systemd.service_state(unit)
    if before.running:
        raise InvalidInput(
            f"notebook {name} is running already",
            f"open it (`gpuagent notebook list`), stop it (`gpuagent notebook stop {name}`), or give another name",
        )
    settings = options_over({} if like is None else file_form(load_job(paths.job_file(like))), options)
    spec = NotebookSpec(name, settings, 0, secrets.token_hex(24), idle_timeout, max_time, like, time.time())
    # Every setting is checked now, before anything is written.
    verify_environment(spec.job())
    spec = dataclasses.replace(spec, port=_port(paths, port))
    units = missing_units(paths)
    for path, text in units.items():
        write_atomic(path, text)
    if units:
        systemd.daemon_reload()
    write_notebook(paths, spec)
    started = time.monotonic()
    try:
        systemd.start(unit)
    except GpuAgentError:
        remove_notebook(paths, name)
        raise
    run = _wait_until_it_answers(paths, systemd, spec, unit, before.invocation_id)
    return StartedNotebook(spec, unit, run, time.monotonic() - started, ssh_login())


def _port(paths: Paths, port: int | None) -> int:
    taken = ports_taken(paths)
    if port is None:
        return free_port(FIRST_PORT, taken)
    check_port(port)
    if port in taken or not bindable(port):
        raise InvalidInput(f"--port {port}: something on this host listens on it already", "give another --port, or none to have one chosen")
    return port


def _wait_until_it_answers(paths: Paths, systemd: Systemd, spec: NotebookSpec, unit: str, earlier_invocation: str | None) -> RunRecord | None:
    """The notebook's run once its URL answers. It has ended only once systemd has started
    it (a new invocation) and it is no longer running: until then its start may wait for
    a unit it is ordered after (gpuagent-boot.service, at a boot's first start)."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    holder = subject(RunKind.NOTEBOOK, spec.name)
    while True:
        if answers(spec.port, spec.token):
            return _newest_run(paths, holder)
        state = systemd.service_state(unit)
        if not state.running and state.invocation_id not in (None, earlier_invocation):
            run = _newest_run(paths, holder)
            why = f"{run.status}: {run.reason}" if run is not None and run.started_at >= spec.started_at else "it recorded nothing"
            raise GpuAgentError(f"notebook {spec.name} ended before its URL answered ({why})", f"journalctl -u {unit}")
        if time.monotonic() >= deadline:
            raise GpuAgentError(
                f"notebook {spec.name} does not answer on 127.0.0.1:{spec.port} after {READY_TIMEOUT_SECONDS}s; it is still starting",
                f"journalctl -u {unit} -f, then `gpuagent notebook list` for its URL",
            )
        time.sleep(POLL_SECONDS)


def _newest_run(paths: Paths, holder: str) -> RunRecord | None:
    with existing_history(paths) as store:
        runs = [] if store is None else store.runs(holder, 1)
    return runs[0] if runs else None


def stop_notebook(paths: Paths, name: str) -> RunRecord | None:
    """Stop the notebook's unit (its agent stops the container and records the end);
    its record as it ended."""
    parse_name(name, "notebook name")
    systemd = Systemd(paths.user_mode)
    unit = notebook_unit_name(name)
    if not systemd.service_state(unit).running and not paths.notebook_file(name).exists():
        raise InvalidInput(f"no notebook named {name!r} is running", "see `gpuagent notebook list`")
    systemd.stop(unit)
    return _newest_run(paths, subject(RunKind.NOTEBOOK, name))


def list_notebooks(paths: Paths) -> list[NotebookState]:
    """The notebooks started and not yet ended."""
    systemd = Systemd(paths.user_mode)
    listed = []
    for name in notebook_names(paths):
        try:
            spec = read_notebook(paths, name)
        except InvalidInput:
            spec = None
        running = systemd.service_state(notebook_unit_name(name)).running
        listed.append(NotebookState(spec, name, running, _newest_run(paths, subject(RunKind.NOTEBOOK, name))))
    return listed
