"""Claims on GPU memory (runs/reservations.py): a session's lasting claim, resized as it
uses memory, and which claims are live."""

import os

import pytest

from gpuagent.runs import reservations
from gpuagent.runs.reservations import SETTLE_SECONDS, ClaimBook, Reservations

GiB = 1 << 30
GPU_A = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
GPU_B = "GPU-bbbbbbbb-0000-0000-0000-000000000000"


@pytest.fixture
def clock(monkeypatch):
    """time.time() as the test sets it."""

    class Clock:
        now = 1_700_000_000.0

    monkeypatch.setattr(reservations.time, "time", lambda: Clock.now)
    return Clock


@pytest.fixture
def book(tmp_path) -> Reservations:
    return Reservations(tmp_path)


def test_a_lasting_claim_outlives_the_settle_time_and_a_plain_one_does_not(book, clock):
    with book.admission() as claims:
        claims.claim("job-run", (GPU_A,), 20 * GiB, "train")
        claims.claim("shell-run", (GPU_A,), 8 * GiB, "shell/train", lasting=True)
    assert {claim.run_id for claim in book.current()} == {"job-run", "shell-run"}

    clock.now += SETTLE_SECONDS - 1
    assert {claim.run_id for claim in book.current()} == {"job-run", "shell-run"}, "both live within the settle time"

    clock.now += 2
    [left] = book.current()
    assert (left.run_id, left.holder, left.lasting, left.bytes) == ("shell-run", "shell/train", True, 8 * GiB)

    clock.now += 30 * 86400
    assert [claim.run_id for claim in book.current()] == ["shell-run"], "a session's claim lasts as long as it does"
    with book.admission() as claims:
        assert claims.claimed_bytes(GPU_A) == 8 * GiB, "admission counts only the live claims"


def test_a_lasting_claim_ends_when_released(book, clock):
    with book.admission() as claims:
        claims.claim("shell-run", (GPU_A, GPU_B), 8 * GiB, "shell/train", lasting=True)
    book.release("shell-run")
    assert book.current() == []


def test_resize_changes_only_that_runs_claims_and_says_whether_anything_changed(clock):
    claims = ClaimBook([])
    claims.claim("shell-run", (GPU_A, GPU_B), 8 * GiB, "shell/train", lasting=True)
    claims.claim("other-run", (GPU_A,), 4 * GiB, "train")
    before = list(claims.claims)

    assert claims.resize("shell-run", {GPU_A: 3 * GiB}) is True
    by_key = {(claim.run_id, claim.gpu_uuid): claim for claim in claims.claims}
    assert by_key["shell-run", GPU_A].bytes == 3 * GiB
    assert by_key["shell-run", GPU_B].bytes == 8 * GiB, "a GPU not named keeps its claim"
    assert by_key["other-run", GPU_A] == before[2], "another run's claim is left alone"
    assert by_key["shell-run", GPU_A].lasting and by_key["shell-run", GPU_A].created_at == before[0].created_at
    assert claims.claimed_bytes(GPU_A) == 7 * GiB

    assert claims.resize("shell-run", {GPU_A: 3 * GiB}) is False, "the same size again changes nothing"
    assert claims.resize("no-such-run", {GPU_A: 0}) is False
    assert claims.resize("shell-run", {GPU_A: 0, GPU_B: 0}) is True
    assert claims.claimed_bytes(GPU_B) == 0
    assert claims.claimed_bytes(GPU_A) == 4 * GiB


def test_reservations_resize_saves_the_new_size(book, clock):
    with book.admission() as claims:
        claims.claim("shell-run", (GPU_A,), 8 * GiB, "shell/train", lasting=True)
    book.resize("shell-run", {GPU_A: 2 * GiB})
    [claim] = book.current()
    assert claim.bytes == 2 * GiB


def test_a_claim_saved_before_lasting_existed_is_a_plain_one(tmp_path, clock):
    (tmp_path / "claims.json").write_text(
        f'[{{"run_id": "old", "agent_pid": {os.getpid()}, "gpu_uuid": "{GPU_A}", "bytes": 1, "created_at": {clock.now}}}]'
    )
    book = Reservations(tmp_path)
    [claim] = book.current()
    assert (claim.lasting, claim.holder) == (False, "")
    clock.now += SETTLE_SECONDS + 1
    assert book.current() == []
