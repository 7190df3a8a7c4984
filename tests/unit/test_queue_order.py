"""The queue's planner (queue/order.py) on entries and GPUs made by hand: who starts now,
on which GPU, and why each of the others waits."""

import dataclasses

from gpuagent.queue.entry import EntryState, QueueEntry
from gpuagent.queue.order import Plan, QueueRules, plan, queue_order
from gpuagent.runs.vramneed import GIVEN, VramNeed
from tests.support.queue_entries import T0, gpu, gpu_uuid, queue_entry

RULES = QueueRules(starvation_bound=30 * 60)
SOON = T0 + 60  # a minute after T0: well inside the starvation bound


def planned(entries: list[QueueEntry], gpus, now: float = SOON, rules: QueueRules = RULES) -> Plan:
    """plan() with each entry's need taken as given (its min_free_vram)."""
    vram = {entry.id: VramNeed(entry.min_free_vram, GIVEN) for entry in entries}
    return plan(entries, gpus, vram, now, rules)


def started(decided: Plan) -> list[str]:
    return [start.entry.id for start in decided.starts]


def gpus_of(decided: Plan) -> dict[str, tuple[str, ...]]:
    return {start.entry.id: start.gpu_uuids for start in decided.starts}


# ------------------------------------------------------------------------------ order


def test_higher_priority_goes_first_whatever_its_submission():
    entries = [
        queue_entry("early-low", submitted_at=T0, priority=10, need_gib=50),
        queue_entry("late-high", submitted_at=T0 + 30, priority=90, need_gib=50),
        queue_entry("middle", submitted_at=T0 + 10, need_gib=50),
    ]
    assert [entry.id for entry in queue_order(entries)] == ["late-high", "middle", "early-low"]
    decided = planned(entries, [gpu(0, 60)])
    assert started(decided) == ["late-high"]
    assert set(decided.waits) == {"middle", "early-low"}


def test_within_a_priority_the_earlier_submission_goes_first():
    entries = [queue_entry(f"run{i}", submitted_at=T0 + 10 - i, need_gib=50) for i in range(4)]
    assert [entry.id for entry in queue_order(entries)] == ["run3", "run2", "run1", "run0"]
    assert started(planned(entries, [gpu(0, 60)])) == ["run3"]


def test_order_at_puts_a_requeued_entry_ahead_of_its_priority_but_not_above_a_higher_one():
    entries = [
        queue_entry("first", submitted_at=T0),
        queue_entry("requeued", submitted_at=T0 + 100, order_at=T0 - 1),
        queue_entry("urgent", submitted_at=T0 + 200, priority=80),
    ]
    assert [entry.id for entry in queue_order(entries)] == ["urgent", "requeued", "first"]


def test_started_entries_are_not_ordered_nor_planned():
    entries = [
        queue_entry("running", state=EntryState.RUNNING, gpu_uuids=(gpu_uuid(0),), need_gib=10),
        queue_entry("starting", state=EntryState.STARTING, gpu_uuids=(gpu_uuid(1),), need_gib=10),
        queue_entry("waiting", submitted_at=T0 + 5, need_gib=10),
    ]
    assert [entry.id for entry in queue_order(entries)] == ["waiting"]
    decided = planned(entries, [gpu(0, 70), gpu(1, 70)])
    assert started(decided) == ["waiting"]
    assert decided.waits == {}


# --------------------------------------------------------------------------- backfill


def test_a_later_small_entry_starts_on_a_gpu_the_head_cannot_use():
    entries = [
        queue_entry("big", submitted_at=T0, need_gib=40),
        queue_entry("small", submitted_at=T0 + 1, need_gib=8),
        queue_entry("medium", submitted_at=T0 + 2, need_gib=30),
    ]
    decided = planned(entries, [gpu(0, 20), gpu(1, 10)])
    assert started(decided) == ["small"]
    assert decided.waits["big"].startswith("needs 1 GPU(s) with 40GiB free; best free is 20GiB on GPU 0")
    assert "ahead in the queue" not in decided.waits["big"]
    # The third is told how many are ahead of it, whether they started or wait.
    assert decided.waits["medium"].endswith("(2 ahead in the queue)"), decided.waits["medium"]
    assert decided.held_for is None


def test_best_fit_takes_the_gpu_with_the_least_free_memory_that_is_enough():
    decided = planned([queue_entry("run", need_gib=20)], [gpu(0, 70), gpu(1, 25), gpu(2, 10)])
    assert gpus_of(decided) == {"run": (gpu_uuid(1),)}


def test_the_second_entry_sees_what_the_first_left_of_the_same_gpu():
    entries = [queue_entry("first", submitted_at=T0, need_gib=20), queue_entry("second", submitted_at=T0 + 1, need_gib=20)]
    decided = planned(entries, [gpu(0, 30)])
    assert started(decided) == ["first"]
    assert "best free is 10GiB on GPU 0" in decided.waits["second"], decided.waits["second"]


def test_two_entries_that_both_fit_share_one_gpu_and_a_third_goes_elsewhere():
    entries = [queue_entry(f"run{i}", submitted_at=T0 + i, need_gib=15) for i in range(3)]
    decided = planned(entries, [gpu(0, 30), gpu(1, 70)])
    # Best fit: the two first fill GPU 0 (30 GiB), the third then fits only GPU 1.
    assert gpus_of(decided) == {"run0": (gpu_uuid(0),), "run1": (gpu_uuid(0),), "run2": (gpu_uuid(1),)}


def test_a_run_with_no_minimum_takes_the_whole_gpu_in_the_plan():
    entries = [queue_entry("any", submitted_at=T0), queue_entry("next", submitted_at=T0 + 1, need_gib=1)]
    decided = planned(entries, [gpu(0, 70)])
    assert started(decided) == ["any"]
    assert "best free is 0B on GPU 0" in decided.waits["next"], decided.waits["next"]


def test_a_multi_gpu_entry_takes_memory_from_each_of_its_gpus():
    entries = [queue_entry("pair", submitted_at=T0, gpus=2, need_gib=30), queue_entry("one", submitted_at=T0 + 1, need_gib=30)]
    decided = planned(entries, [gpu(0, 50), gpu(1, 50)])
    assert gpus_of(decided) == {"pair": (gpu_uuid(0), gpu_uuid(1))}
    assert "best free is 20GiB" in decided.waits["one"]


# ------------------------------------------------------------------------- starvation


def test_once_the_head_waited_past_the_bound_nothing_behind_it_starts():
    entries = [
        queue_entry("big", submitted_at=T0, need_gib=40),
        queue_entry("small", submitted_at=T0 + 1, need_gib=8),
        queue_entry("tiny", submitted_at=T0 + 2, need_gib=1, submitter="bob"),
    ]
    decided = planned(entries, [gpu(0, 20)], now=T0 + RULES.starvation_bound + 1)
    assert started(decided) == []
    assert decided.held_for == "big"
    for behind in ("small", "tiny"):
        assert decided.waits[behind] == "held for the head of the queue (big, waiting longer than 30m)"
    assert decided.waits["big"].startswith("needs 1 GPU(s) with 40GiB free")


def test_before_the_bound_backfill_goes_on():
    entries = [queue_entry("big", submitted_at=T0, need_gib=40), queue_entry("small", submitted_at=T0 + 1, need_gib=8)]
    decided = planned(entries, [gpu(0, 20)], now=T0 + RULES.starvation_bound - 1)
    assert started(decided) == ["small"]
    assert decided.held_for is None


def test_a_starving_head_that_fits_starts():
    entries = [queue_entry("big", submitted_at=T0, need_gib=40), queue_entry("small", submitted_at=T0 + 1, need_gib=8)]
    decided = planned(entries, [gpu(0, 60)], now=T0 + RULES.starvation_bound + 1)
    assert "big" in started(decided)


def test_cpu_runs_start_while_the_gpus_are_held_for_the_head():
    entries = [queue_entry("big", submitted_at=T0, need_gib=40), queue_entry("cpu", submitted_at=T0 + 1, gpus=0)]
    decided = planned(entries, [gpu(0, 20)], now=T0 + RULES.starvation_bound + 1)
    assert started(decided) == ["cpu"]
    assert decided.held_for == "big"


def test_gpus_are_not_held_for_a_head_its_submitters_cap_keeps_out():
    rules = QueueRules(starvation_bound=RULES.starvation_bound, max_gpus_per_submitter=1)
    entries = [
        queue_entry("alice-running", submitter="alice", state=EntryState.RUNNING, gpu_uuids=(gpu_uuid(0),)),
        queue_entry("alice-next", submitter="alice", submitted_at=T0, need_gib=10),
        queue_entry("bob", submitter="bob", submitted_at=T0 + 1, need_gib=10),
    ]
    decided = planned(entries, [gpu(0, 0), gpu(1, 70)], now=T0 + rules.starvation_bound + 1, rules=rules)
    assert started(decided) == ["bob"]
    assert decided.held_for is None
    assert decided.waits["alice-next"] == "alice holds 1 GPU(s) already; the cap is 1 per submitter"


def test_gpus_are_not_held_for_a_head_no_gpu_of_this_host_could_ever_take():
    entries = [
        queue_entry("too-big", submitted_at=T0, need_gib=200),
        queue_entry("no-such-gpu", submitted_at=T0 + 1, need_gib=1, gpu_ids=("7",)),
        queue_entry("small", submitted_at=T0 + 2, need_gib=8),
    ]
    decided = planned(entries, [gpu(0, 20), gpu(1, 0)], now=T0 + RULES.starvation_bound + 1)
    assert started(decided) == ["small"]
    assert decided.held_for is None
    assert "needs 1 GPU(s) with 200GiB free" in decided.waits["too-big"]


def test_while_a_gpu_cannot_be_read_the_head_is_held_for_as_if_it_could_fit():
    """A GPU that failed to read may be the one it needs: the bound's promise is kept."""
    entries = [queue_entry("too-big", submitted_at=T0, need_gib=200), queue_entry("small", submitted_at=T0 + 1, need_gib=8)]
    decided = planned(entries, [gpu(0, 20), gpu(1, None, error="GPU is lost")], now=T0 + RULES.starvation_bound + 1)
    assert started(decided) == []
    assert decided.held_for == "too-big"


def test_the_first_head_that_could_start_is_the_one_held_for():
    entries = [
        queue_entry("too-big", submitted_at=T0, need_gib=200),
        queue_entry("big", submitted_at=T0 + 1, need_gib=40),
        queue_entry("small", submitted_at=T0 + 2, need_gib=8),
    ]
    decided = planned(entries, [gpu(0, 20)], now=T0 + RULES.starvation_bound + 2)
    assert started(decided) == []
    assert decided.held_for == "big"
    assert decided.waits["small"] == "held for the head of the queue (big, waiting longer than 30m)"


SMALL_GIB, BIG_GIB = 30, 60  # two small runs fill an 80 GiB GPU so that the big never fits beside one
SMALL_RUN = 10 * 60  # each small run lasts this long...
ARRIVALS = 5 * 60  # ...and a new one arrives this often: one always holds the GPU
TICK = 60  # the dispatcher runs this often (and at each end and arrival, which fall on ticks)


def big_run_start(rules: QueueRules, horizon: float) -> float | None:
    """Simulate one 80 GiB GPU fed a stream of small runs, with a big run submitted at T0
    behind two small ones already running: when the big one starts (None: not by `horizon`)."""
    running: dict[str, tuple[float, int]] = {"small-a": (T0 - 7 * 60, SMALL_GIB), "small-b": (T0 - 2 * 60, SMALL_GIB)}  # id -> (started, GiB)
    waiting = [queue_entry("big", submitted_at=T0, need_gib=BIG_GIB, submitter="bob")]
    arrivals = 0
    now = T0
    while now <= T0 + horizon:
        running = {run: (began, gib) for run, (began, gib) in running.items() if now - began < SMALL_RUN}
        if now >= T0 + arrivals * ARRIVALS:
            waiting.append(queue_entry(f"small{arrivals}", submitted_at=now, need_gib=SMALL_GIB))
            arrivals += 1
        started_ones = [queue_entry(run, state=EntryState.RUNNING, gpu_uuids=(gpu_uuid(0),), need_gib=gib) for run, (_, gib) in running.items()]
        free = 80 - sum(gib for _, gib in running.values())
        decided = planned([*started_ones, *waiting], [gpu(0, free)], now=now, rules=rules)
        for start in decided.starts:
            if start.entry.id == "big":
                return now
            running[start.entry.id] = (now, SMALL_GIB)
            waiting.remove(start.entry)
        now += TICK
    return None


def test_a_big_run_gets_its_gpu_while_small_ones_keep_arriving():
    bound = 30 * 60
    start = big_run_start(QueueRules(starvation_bound=bound), horizon=4 * 3600)
    # Once the bound passes, the GPU is held: the small runs on it end within one of their
    # runs' length, and the next dispatch starts the big one.
    assert start is not None
    assert T0 + bound < start <= T0 + bound + SMALL_RUN + TICK


def test_without_the_hold_the_stream_of_small_runs_starves_the_big_one():
    """The simulation above, its bound out of reach: backfill alone never lets it start."""
    assert big_run_start(QueueRules(starvation_bound=365 * 86400), horizon=4 * 3600) is None


# ------------------------------------------------------------------------------- caps


def test_a_submitter_at_the_cap_waits_and_the_others_pass():
    rules = QueueRules(starvation_bound=RULES.starvation_bound, max_gpus_per_submitter=2)
    entries = [
        queue_entry("a1", submitter="alice", state=EntryState.RUNNING, gpu_uuids=(gpu_uuid(0),)),
        queue_entry("a2", submitter="alice", state=EntryState.STARTING, gpu_uuids=(gpu_uuid(1),)),
        queue_entry("a3", submitter="alice", submitted_at=T0, need_gib=10),
        queue_entry("b1", submitter="bob", submitted_at=T0 + 1, need_gib=10),
    ]
    decided = planned(entries, [gpu(0, 60), gpu(1, 60), gpu(2, 80), gpu(3, 80)], rules=rules)
    assert started(decided) == ["b1"]
    assert decided.waits == {"a3": "alice holds 2 GPU(s) already; the cap is 2 per submitter"}


def test_the_cap_counts_what_the_plan_itself_starts():
    rules = QueueRules(starvation_bound=RULES.starvation_bound, max_gpus_per_submitter=3)
    entries = [
        queue_entry("pair", submitter="alice", submitted_at=T0, gpus=2, need_gib=10),
        queue_entry("one", submitter="alice", submitted_at=T0 + 1, need_gib=10),
        queue_entry("another", submitter="alice", submitted_at=T0 + 2, need_gib=10),
        queue_entry("bobs", submitter="bob", submitted_at=T0 + 3, need_gib=10),
    ]
    decided = planned(entries, [gpu(index, 80) for index in range(6)], rules=rules)
    assert started(decided) == ["pair", "one", "bobs"]
    assert decided.waits == {"another": "alice holds 3 GPU(s) already; the cap is 3 per submitter"}


def test_an_entry_asking_more_gpus_than_the_cap_says_so():
    rules = QueueRules(starvation_bound=RULES.starvation_bound, max_gpus_per_submitter=2)
    decided = planned([queue_entry("four", gpus=4, need_gib=10)], [gpu(index, 80) for index in range(4)], rules=rules)
    assert decided.waits == {"four": "it asks 4 GPUs, more than the cap of 2 per submitter"}


def test_without_a_cap_one_submitter_may_take_every_gpu():
    entries = [queue_entry(f"a{i}", submitted_at=T0 + i, need_gib=50) for i in range(3)]
    assert started(planned(entries, [gpu(index, 80) for index in range(3)])) == ["a0", "a1", "a2"]


# ------------------------------------------------------------------------------- CPUs


def test_cpu_runs_start_with_no_gpu_free_nor_readable_and_at_the_cap():
    rules = QueueRules(starvation_bound=RULES.starvation_bound, max_gpus_per_submitter=1)
    entries = [
        queue_entry("gpu-run", submitter="alice", state=EntryState.RUNNING, gpu_uuids=(gpu_uuid(0),)),
        queue_entry("cpu1", submitter="alice", submitted_at=T0, gpus=0),
        queue_entry("cpu2", submitter="alice", submitted_at=T0 + 1, gpus=0),
    ]
    for gpus in ([gpu(0, 0)], [], [gpu(0, None, error="GPU is lost")]):
        decided = planned(entries, gpus, rules=rules)
        assert started(decided) == ["cpu1", "cpu2"]
        assert all(start.gpu_uuids == () for start in decided.starts)


# --------------------------------------------------------------------- unreadable GPUs


def test_unreadable_gpus_are_never_chosen():
    lost = dataclasses.replace(gpu(0, 80), error="GPU is lost")  # even with a free figure left over
    gpus = [lost, gpu(1, None), gpu(2, 20)]
    entries = [
        queue_entry("fits", submitted_at=T0, need_gib=10),
        queue_entry("any", submitted_at=T0 + 1),
        queue_entry("big", submitted_at=T0 + 2, need_gib=40),
    ]
    decided = planned(entries, gpus)
    assert gpus_of(decided) == {"fits": (gpu_uuid(2),), "any": (gpu_uuid(2),)}
    assert "2 GPU(s) unavailable" in decided.waits["big"], decided.waits["big"]


def test_no_gpu_readable_means_every_gpu_run_waits():
    gpus = [gpu(0, None, error="Unknown Error"), gpu(1, None)]
    decided = planned([queue_entry("any"), queue_entry("some", need_gib=1)], gpus)
    assert started(decided) == []
    assert all("no GPU could be read" in why for why in decided.waits.values()), decided.waits
