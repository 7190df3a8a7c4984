"""Writing a run's record so that no fault loses it.

Every write saves the run's whole latest state, so a write that failed (database locked,
disk full, file gone) is simply made again later. At the end of a run the record is
retried for a while; if the database still refuses it, the record goes to a spool file
beside the database, which the next store opened for writing adds to history; and if even
that cannot be written, the journal says plainly that the run was not recorded and what
the record said.
"""

import contextlib
import dataclasses
import json
import time

from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host.historydb import STORE_ERRORS, HistoryStore
from gpuagent.host.spool import spool_path
from gpuagent.runs.record import RunRecord

FINAL_PATIENCE_SECONDS = 10


class RunRecorder:
    def __init__(self, paths: Paths, log: Log) -> None:
        self._db_path = paths.history_db
        self._log = log
        self._store: HistoryStore | None = None
        self._failing = False

    def save(self, run: RunRecord) -> bool:
        """Try to write `run` now; False (and one line in the journal) if it cannot be."""
        try:
            self._opened().save(run)
        except STORE_ERRORS as err:
            self._drop_store()
            if not self._failing:
                self._log(f"history database unavailable ({err}): the record of run {run.run_id} will be written later")
            self._failing = True
            return False
        if self._failing:
            self._log(f"history database works again: run {run.run_id} recorded")
        self._failing = False
        return True

    def save_final(self, run: RunRecord) -> None:
        """Write the finished run, retrying for FINAL_PATIENCE_SECONDS, then spool it."""
        deadline = time.monotonic() + FINAL_PATIENCE_SECONDS
        while not self.save(run):
            if time.monotonic() >= deadline:
                self._spool(run)
                return
            time.sleep(1)

    def close(self) -> None:
        self._drop_store()

    def mark_lost(self, job: str, reason: str) -> list[str]:
        try:
            return self._opened().mark_lost(job, reason)
        except STORE_ERRORS as err:
            self._drop_store()
            self._log(f"could not mark lost runs of {job} in history ({err})")
            return []

    def _opened(self) -> HistoryStore:
        """The store, opened again if an earlier failure dropped it."""
        if self._store is None:
            self._store = HistoryStore(self._db_path)
        return self._store

    def _drop_store(self) -> None:
        if self._store is not None:
            with contextlib.suppress(*STORE_ERRORS):
                self._store.close()
            self._store = None

    def _spool(self, run: RunRecord) -> None:
        spool = spool_path(self._db_path)
        line = json.dumps(dataclasses.asdict(run))
        try:
            with open(spool, "a") as handle:
                handle.write(line + "\n")
                handle.flush()
        except OSError as err:
            self._log(f"run {run.run_id} was NOT recorded in history ({err}); its record: {line}")
            return
        self._log(f"history database still unavailable: run {run.run_id} kept in {spool}, added to history once the database works")
