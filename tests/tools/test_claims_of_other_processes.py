"""GPU claims held by other processes: a dead agent's claim, a lock another process holds."""

import os
import subprocess
import sys
import time

import pytest

from gpuagent.runs.reservations import Claim, Reservations
from tests.unit import test_claims_lasting
from tests.unit.test_claims_lasting import GPU_A, GiB

# fixtures the in-process half of these tests takes too
book = test_claims_lasting.book
clock = test_claims_lasting.clock


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_current_reads_the_live_claims_without_the_lock(book, clock, tmp_path):
    import fcntl

    with book.admission() as claims:
        claims.claim("shell-run", (GPU_A,), 8 * GiB, "shell/train", lasting=True)
    # Another process holds the admission lock (as an agent deciding would): current()
    # does not wait for it.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(tmp_path / "admission.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with open(tmp_path / "admission.lock") as probe, pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock really is held
        started = time.monotonic()
        [claim] = book.current()
        assert time.monotonic() - started < 1
        assert (claim.run_id, claim.gpu_uuid, claim.bytes) == ("shell-run", GPU_A, 8 * GiB)
    finally:
        holder.kill()
        holder.wait()


def test_a_claim_of_a_dead_agent_is_not_live_lasting_or_not(tmp_path, clock):
    gone = dead_pid()
    now = clock.now
    saved = [
        Claim("dead-shell", gone, GPU_A, 8 * GiB, now, "shell/train", lasting=True),
        Claim("dead-job", gone, GPU_A, 8 * GiB, now, "train"),
        Claim("live-shell", os.getpid(), GPU_A, 2 * GiB, now, "shell/other", lasting=True),
    ]
    book = Reservations(tmp_path)
    with book.admission() as claims:
        claims.claims = saved
    assert [claim.run_id for claim in book.current()] == ["live-shell"]
    with book.admission() as claims:
        assert claims.claimed_bytes(GPU_A) == 2 * GiB
    assert "dead-shell" not in (tmp_path / "claims.json").read_text(), "the next admission drops a dead agent's claims"
