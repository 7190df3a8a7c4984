"""What several commands need: the timer a job file calls for, the units gpuagent ships as
systemd loads them, and a run from history.

What only some of them use is imported where it is used: `history` needs the store alone,
and job files with their parsers cost it about 15 ms to import (bench/cli_views.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gpuagent.core.errors import NotFound
from gpuagent.core.paths import Paths
from gpuagent.host.historydb import existing_history

if TYPE_CHECKING:
    from gpuagent.host.historydb import HistoryStore
    from gpuagent.jobs.job import Job
    from gpuagent.jobs.units import ShippedUnit
    from gpuagent.runs.record import RunRecord
    from gpuagent.runs.runmetrics import MetricPoint


def require_known_job(paths: Paths, name: str) -> None:
    """NotFound unless the job has a job file or a timer (either may be all that is left)."""
    if not paths.job_file(name).exists() and not paths.timer_file(name).exists():
        raise NotFound(f"no job named {name!r}", "see `gpuagent list` for the jobs there are")


def timer_text(paths: Paths, job: Job) -> str:
    """The timer `job`'s file calls for, as `add` and `sync` write it."""
    from gpuagent.jobs.units import timer_unit

    return timer_unit(job, paths.job_file(job.name)).render()


def timer_names(paths: Paths) -> list[str]:
    """The jobs that have a timer file in the unit directory, whether or not a job file is left."""
    from gpuagent.core.values import NAME_PATTERN

    if not paths.unit_dir.is_dir():
        return []
    names = (timer.name.removeprefix("gpuagent@").removesuffix(".timer") for timer in paths.unit_dir.glob("gpuagent@*.timer"))
    return sorted(name for name in names if NAME_PATTERN.fullmatch(name))


@dataclass(frozen=True)
class UnitState:
    unit: ShippedUnit
    path: Path | None  # the file systemd loads (the first of Paths.unit_places there); None: none
    current: bool  # it is the one this gpuagent ships


def loaded_unit(paths: Paths, unit: ShippedUnit) -> Path | None:
    """The file systemd loads for a shipped unit: the first of Paths.unit_places that is
    there (a link to /dev/null, masked, is there too); None where there is none."""
    return next((place for place in paths.unit_places(unit.name) if os.path.lexists(place)), None)


def shipped_unit_states(paths: Paths) -> list[UnitState]:
    """Each unit gpuagent ships, as systemd finds it."""
    from gpuagent.jobs.units import SHIPPED_UNITS

    states = []
    for unit in SHIPPED_UNITS:
        place = loaded_unit(paths, unit)
        states.append(UnitState(unit, place, place is not None and place.is_file() and place.read_text() == unit.text()))
    return states


def missing_units(paths: Paths) -> dict[Path, str]:
    """The shipped units to write where systemd has none. One that is there, edited or
    older, is never replaced: local changes belong in drop-ins, and doctor reports it."""
    from gpuagent.jobs.units import SHIPPED_UNITS

    return {paths.unit_file(unit.name): unit.text() for unit in SHIPPED_UNITS if loaded_unit(paths, unit) is None}


def get_run(paths: Paths, run_id: str) -> RunRecord:
    with existing_history(paths) as store:
        run = None if store is None else store.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} in history", "see `gpuagent history` for run ids")
    return run


def check_chain_change(paths: Paths, changed: dict[str, Job]) -> None:
    """Refuse `changed` (jobs about to be written) if they would make a chain of --after
    jobs that cannot work: to a missing job, in a circle, or too long (jobs/chains.py)."""
    from gpuagent.jobs.chains import check_chains
    from gpuagent.jobs.inventory import job_afters

    check_chains({**job_afters(paths), **{name: job.after for name, job in changed.items()}}, changed)


def metric_points_of(store: HistoryStore | None, job: str, runs: list[RunRecord], metric: str) -> list[MetricPoint]:
    """Metric `metric` of the job's `runs` (newest first), each with its change from the
    previous successful run that reported it, looked for in `store` before the oldest."""
    from gpuagent.runs.runmetrics import metric_points

    earlier = store.last_metric(job, metric, before=runs[-1].started_at) if store and runs else None
    return metric_points(runs, metric, earlier)
