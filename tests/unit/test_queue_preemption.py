"""Which running queued runs a --preempt run stops (queue/preemption.py), planned on
hand-made entries and GPUs."""

from gpuagent.queue.entry import EntryState
from gpuagent.queue.order import QueueRules, plan
from gpuagent.queue.preemption import PREEMPT_SHIELD_SECONDS, preemption
from gpuagent.runs.vramneed import GIVEN, VramNeed
from tests.support.queue_entries import T0, gpu, gpu_uuid, queue_entry

NOW = T0 + 100


def running(entry_id: str, priority: int, on: int = 0, need_gib: float = 60, started: float = T0, **fields):
    return queue_entry(
        entry_id, priority=priority, need_gib=need_gib, state=EntryState.RUNNING, gpu_uuids=(gpu_uuid(on),), state_at=started, **fields
    )


def decide(entries, gpus):
    needs = {entry.id: VramNeed(entry.min_free_vram, GIVEN) for entry in entries}
    planned = plan(entries, gpus, needs, NOW, QueueRules())
    return planned, preemption(entries, planned, needs, NOW)


def test_a_preempting_run_stops_the_lowest_priority_run_on_one_gpu():
    entries = [
        running("low", 10, on=0),
        running("mid", 30, on=1),
        queue_entry("urgent", priority=90, need_gib=60, preempt=True, submitted_at=T0 + 50),
    ]
    planned, taking = decide(entries, [gpu(0, 20), gpu(1, 20)])
    assert not planned.starts
    assert taking is not None and taking.entry.id == "urgent"
    assert [victim.id for victim in taking.victims] == ["low"]
    assert "urgent" in taking.reason and "low" in taking.reason


def test_of_equal_priorities_the_latest_started_goes_first():
    entries = [
        running("early", 10, on=0, started=T0),
        running("late", 10, on=1, started=T0 + 60),
        queue_entry("urgent", priority=90, need_gib=60, preempt=True),
    ]
    _, taking = decide(entries, [gpu(0, 20), gpu(1, 20)])
    assert [victim.id for victim in taking.victims] == ["late"]


def test_never_for_an_equal_or_lower_priority_nor_without_preempt():
    for priority, preempt in ((10, True), (5, True), (90, False)):
        entries = [running("low", 10), queue_entry("other", priority=priority, need_gib=60, preempt=preempt)]
        _, taking = decide(entries, [gpu(0, 20)])
        assert taking is None, (priority, preempt)


def test_never_a_scheduled_run_nor_a_starting_one():
    for entry in (
        running("job", 10, scheduled=True),
        queue_entry("starting", priority=10, need_gib=60, state=EntryState.STARTING, gpu_uuids=(gpu_uuid(0),)),
    ):
        _, taking = decide([entry, queue_entry("urgent", priority=90, need_gib=60, preempt=True)], [gpu(0, 20)])
        assert taking is None, entry.id


def test_not_twice_in_a_row_within_the_shield():
    restarted = NOW - PREEMPT_SHIELD_SECONDS / 2
    shielded = running("low", 10, started=restarted, preempted_at=restarted - 5, preemptions=1)
    _, taking = decide([shielded, queue_entry("urgent", priority=90, need_gib=60, preempt=True)], [gpu(0, 20)])
    assert taking is None
    ran_long = running("low", 10, started=NOW - PREEMPT_SHIELD_SECONDS - 1, preempted_at=NOW - PREEMPT_SHIELD_SECONDS - 10, preemptions=1)
    _, taking = decide([ran_long, queue_entry("urgent", priority=90, need_gib=60, preempt=True)], [gpu(0, 20)])
    assert taking is not None


def test_nothing_more_while_a_preemption_is_in_flight():
    stopping = running("low", 10, on=0, preempted_at=NOW - 1, started=T0)
    _, taking = decide([stopping, running("low2", 10, on=1), queue_entry("urgent", priority=90, need_gib=60, preempt=True)], [gpu(0, 20), gpu(1, 20)])
    assert taking is None, "the stopped run's GPU frees soon: no second victim"


def test_no_victim_when_stopping_them_all_would_not_make_room():
    entries = [running("low", 10, need_gib=10), queue_entry("huge", priority=90, need_gib=79, preempt=True)]
    _, taking = decide(entries, [gpu(0, 20)])
    assert taking is None, "10 GiB back on a GPU with 20 GiB free is not 79 GiB"


def test_a_run_that_fits_needs_no_preemption():
    planned, taking = decide([running("low", 10), queue_entry("urgent", priority=90, need_gib=10, preempt=True)], [gpu(0, 20)])
    assert [start.entry.id for start in planned.starts] == ["urgent"] and taking is None
