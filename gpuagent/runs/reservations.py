"""Claims on GPU memory, so two runs admitted in the same second cannot both count the
same free memory.

NVML only shows a run's memory once its container has started and allocated it, which
can take a while (a model loads first). Between admission and that moment, the run holds
a claim: admission subtracts the claims of other runs from what NVML says is free. A
claim ends when the run releases it (its memory is now visible on the GPU, or the run is
over), when its agent is gone, or when SETTLE_SECONDS pass. A notebook's or a shell's
claim lasts as long as it does (`lasting`): its agent keeps it at what it reserved less
what it uses now, since an idle notebook holds nothing yet. Admission decisions and claim
changes happen under one host-wide lock.
"""

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gpuagent.host.files import write_atomic
from gpuagent.host.locks import flocked
from gpuagent.host.nvml import GpuSnapshot

SETTLE_SECONDS = 600
# A claim made for a run whose agent has not started yet (the queue's dispatcher claims for
# the runs it starts, then exits): it lives this long unless that agent takes it over.
PENDING_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class Claim:
    run_id: str
    agent_pid: int
    gpu_uuid: str
    bytes: int
    created_at: float
    holder: str = ""  # who claims it: the job, or the notebook or shell (sessions/spec.py)
    lasting: bool = False  # held until released, however long
    pending: bool = False  # made for a run whose agent is starting (PENDING_SECONDS)


class ClaimBook:
    """The live claims, read under the admission lock."""

    def __init__(self, claims: list[Claim]) -> None:
        self.claims = claims

    def claimed_bytes(self, gpu_uuid: str) -> int:
        return sum(claim.bytes for claim in self.claims if claim.gpu_uuid == gpu_uuid)

    def unclaimed(self, gpus: list[GpuSnapshot], mine: str | None = None) -> list[GpuSnapshot]:
        """The snapshots with other runs' claimed memory taken off what is free (`mine`:
        a run id whose own claim is not taken off)."""
        others = ClaimBook([claim for claim in self.claims if claim.run_id != mine])
        return [
            gpu if gpu.free_bytes is None else dataclasses.replace(gpu, free_bytes=max(0, gpu.free_bytes - others.claimed_bytes(gpu.uuid)))
            for gpu in gpus
        ]

    def claim(self, run_id: str, gpu_uuids: tuple[str, ...], size: int, holder: str, *, lasting: bool = False, pending: bool = False) -> None:
        """Claim `size` bytes on each GPU for the run, in place of what it claimed before."""
        now = time.time()
        self.release(run_id)
        self.claims += [Claim(run_id, os.getpid(), uuid, size, now, holder, lasting, pending) for uuid in gpu_uuids]

    def resize(self, run_id: str, bytes_by_gpu: dict[str, int]) -> bool:
        """Set the run's claim on each GPU; whether anything changed."""
        resized = [
            dataclasses.replace(claim, bytes=bytes_by_gpu.get(claim.gpu_uuid, claim.bytes)) if claim.run_id == run_id else claim
            for claim in self.claims
        ]
        changed = resized != self.claims
        self.claims = resized
        return changed

    def release(self, run_id: str) -> None:
        self.claims = [claim for claim in self.claims if claim.run_id != run_id]


class Reservations:
    def __init__(self, runtime_dir: Path) -> None:
        self._lock = runtime_dir / "admission.lock"
        self._file = runtime_dir / "claims.json"

    @contextmanager
    def admission(self) -> Iterator[ClaimBook]:
        """Hold the host-wide admission lock; claims changed in the block are saved."""
        with flocked(self._lock, wait=True):
            book = ClaimBook([claim for claim in self._load() if _live(claim)])
            yield book
            write_atomic(self._file, json.dumps([dataclasses.asdict(claim) for claim in book.claims]), mode=0o600)

    def release(self, run_id: str) -> None:
        with self.admission() as book:
            book.release(run_id)

    def resize(self, run_id: str, bytes_by_gpu: dict[str, int]) -> None:
        with self.admission() as book:
            book.resize(run_id, bytes_by_gpu)

    def hand_over(self, run_id: str, to_run_id: str) -> None:
        """Make the claims of `run_id` those of `to_run_id` (a queued run that runs again
        under a new id takes over what its dispatcher claimed under the entry's)."""
        with self.admission() as book:
            book.claims = [dataclasses.replace(claim, run_id=to_run_id) if claim.run_id == run_id else claim for claim in book.claims]

    def current(self) -> list[Claim]:
        """The live claims, read without the lock (for views): a claim being changed
        shows as it was, or as it is."""
        return [claim for claim in self._load() if _live(claim)]

    def _load(self) -> list[Claim]:
        try:
            return [Claim(**entry) for entry in json.loads(self._file.read_text())]
        except FileNotFoundError:
            return []
        except (ValueError, TypeError):
            return []  # a damaged file only costs the claims it held


def _live(claim: Claim) -> bool:
    age = time.time() - claim.created_at
    if claim.pending:
        return age <= PENDING_SECONDS  # its maker has exited: the age alone says
    if not claim.lasting and age > SETTLE_SECONDS:
        return False
    try:
        os.kill(claim.agent_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    return True
