"""The queue's SQLite store (host/queuedb.py) on a real database file: entries in, out and
changed; dedupe keys refused naming their holder, a batch all or none; ten writers at once
lose and double nothing."""

import sqlite3
import threading

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import ENV_OVERRIDES, Paths, resolve_paths
from gpuagent.host.queuedb import QueueStore, existing_queue
from gpuagent.queue.entry import EntryState
from gpuagent.queue.order import queue_order
from tests.support.queue_entries import T0, GiB, gpu_uuid, queue_entry


@pytest.fixture
def db(tmp_path):
    return tmp_path / "state" / "queue.db"


def test_entries_come_back_in_submission_order_with_every_field(db):
    sweep_run = queue_entry(
        "swept",
        submitted_at=T0 + 2,
        priority=70,
        gpus=2,
        gpu_ids=("0", gpu_uuid(3)),
        max_gpu_util=30,
        exclusive=True,
        learn_from=("queue/swept", "nightly"),
        dedupe_key="train-v3 lr=1e-3",
        group_id="0badcafe",
        params={"lr": "1e-3"},
        settings={"image": "img", "command": ["python", "train.py"], "env": {"GPUAGENT_SWEEP_lr": "1e-3"}},
    )
    entries = [
        queue_entry("second-submitted", submitted_at=T0 + 1, need_gib=20),
        queue_entry("first-submitted", submitted_at=T0, min_free_vram="auto"),
        sweep_run,
        queue_entry("cpu", submitted_at=T0 + 3, gpus=0),
    ]
    with QueueStore(db) as store:
        store.add(entries[:2])
        store.add(entries[2:])
    with QueueStore(db) as store:
        back = store.entries()
    # The order of their adding (seq), whatever their times: queue_order ranks them.
    assert back == entries
    assert back[0].min_free_vram == 20 * GiB and back[1].min_free_vram == "auto" and back[3].min_free_vram is None


def test_get_finds_an_entry_by_id_or_says_none(db):
    with QueueStore(db) as store:
        store.add([queue_entry("a"), queue_entry("b")])
        assert store.get("b") == queue_entry("b")
        assert store.get("nope") is None


def test_set_state_records_the_gpus_and_the_agent(db):
    with QueueStore(db) as store:
        store.add([queue_entry("a")])
        assert store.set_state("a", EntryState.STARTING, gpu_uuids=(gpu_uuid(1),))
        starting = store.get("a")
        assert (starting.state, starting.gpu_uuids, starting.waiting) == (EntryState.STARTING, (gpu_uuid(1),), False)
        assert starting.state_at > T0
        assert store.set_state("a", EntryState.RUNNING, gpu_uuids=(gpu_uuid(1),), agent_pid=4242)
        assert (store.get("a").state, store.get("a").agent_pid) == (EntryState.RUNNING, 4242)
        assert not store.set_state("gone", EntryState.RUNNING)


def test_requeue_puts_it_back_waiting_in_its_place(db):
    with QueueStore(db) as store:
        store.add([queue_entry(f"run{i}", submitted_at=T0 + i) for i in range(3)])
        store.set_state("run0", EntryState.RUNNING, gpu_uuids=(gpu_uuid(0),), agent_pid=7)
        store.requeue("run0")
        back = store.get("run0")
        assert (back.state, back.gpu_uuids, back.agent_pid) == (EntryState.WAITING, (), None)
        assert [entry.id for entry in queue_order(store.entries())] == ["run0", "run1", "run2"]


def test_requeue_first_puts_it_ahead_of_its_prioritys_others_but_not_of_a_higher_one(db):
    with QueueStore(db) as store:
        store.add(
            [
                queue_entry("urgent", submitted_at=T0 + 50, priority=90),
                queue_entry("early", submitted_at=T0),
                queue_entry("late", submitted_at=T0 + 10),
                queue_entry("low", submitted_at=T0 - 100, priority=10),
            ]
        )
        store.set_state("late", EntryState.RUNNING, gpu_uuids=(gpu_uuid(0),), agent_pid=7)
        store.requeue("late", first=True)
        assert [entry.id for entry in queue_order(store.entries())] == ["urgent", "late", "early", "low"]
        # A second one requeued first goes ahead of the first one so requeued.
        store.requeue("early", first=True)
        assert [entry.id for entry in queue_order(store.entries())] == ["urgent", "early", "late", "low"]


def test_remove_takes_it_out_once(db):
    with QueueStore(db) as store:
        store.add([queue_entry("a"), queue_entry("b")])
        assert store.remove("a")
        assert not store.remove("a")
        assert [entry.id for entry in store.entries()] == ["b"]


def test_a_dedupe_key_held_is_refused_naming_the_holder(db):
    with QueueStore(db) as store:
        store.add([queue_entry("c0ffee", name="train-v3", dedupe_key="v3")])
        store.set_state("c0ffee", EntryState.RUNNING, gpu_uuids=(gpu_uuid(0),), agent_pid=7)
        with pytest.raises(InvalidInput) as refused:
            store.add([queue_entry("other", dedupe_key="v3")])
        assert refused.value.message == "--dedupe v3: run c0ffee (train-v3) holds that key, running"
        assert "gpuagent cancel c0ffee" in refused.value.hint
        assert [entry.id for entry in store.entries()] == ["c0ffee"]


def test_a_key_is_free_again_once_its_holder_left(db):
    with QueueStore(db) as store:
        store.add([queue_entry("first", dedupe_key="v3")])
        store.remove("first")
        store.add([queue_entry("second", dedupe_key="v3")])
        assert [entry.id for entry in store.entries()] == ["second"]


def test_a_batch_with_one_refused_entry_adds_none_of_its_entries(db):
    with QueueStore(db) as store:
        store.add([queue_entry("holder", dedupe_key="k lr=3")])
        batch = [queue_entry(f"sweep{i}", dedupe_key=f"k lr={i}") for i in range(1, 6)]
        with pytest.raises(InvalidInput, match="run holder"):
            store.add(batch)
        assert [entry.id for entry in store.entries()] == ["holder"]
        # The store still takes a good batch afterwards: nothing was left half-open.
        store.add(batch[:2])
        assert [entry.id for entry in store.entries()] == ["holder", "sweep1", "sweep2"]


def test_ten_writers_at_once_lose_and_double_no_entry(db):
    writers, each = 10, 20
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def submit(writer: int) -> None:
        try:
            barrier.wait()
            with QueueStore(db) as store:  # a fresh database: the first opens race too
                for number in range(each):
                    store.add([queue_entry(f"w{writer}-{number}", submitted_at=T0 + number)])
        except BaseException as err:  # noqa: BLE001  # reported by the test's thread below
            failures.append(err)

    threads = [threading.Thread(target=submit, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with QueueStore(db) as store:
        ids = [entry.id for entry in store.entries()]
    assert len(ids) == writers * each
    assert set(ids) == {f"w{writer}-{number}" for writer in range(writers) for number in range(each)}
    # Each writer's entries in the order it added them.
    for writer in range(writers):
        assert [i for i in ids if i.startswith(f"w{writer}-")] == [f"w{writer}-{number}" for number in range(each)]


def test_ten_writers_of_one_dedupe_key_exactly_one_wins(db):
    writers = 10
    with QueueStore(db):
        pass  # the schema in place: this test is about the key, the one above about first opens
    barrier = threading.Barrier(writers)
    won: list[str] = []
    refused: list[str] = []
    failures: list[BaseException] = []

    def submit(writer: int) -> None:
        try:
            with QueueStore(db) as store:
                barrier.wait()
                store.add([queue_entry(f"w{writer}", dedupe_key="only-one")])
            won.append(f"w{writer}")
        except InvalidInput as err:
            refused.append(err.message)
        except BaseException as err:  # noqa: BLE001
            failures.append(err)

    threads = [threading.Thread(target=submit, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(won) == 1 and len(refused) == writers - 1
    assert all(message.startswith(f"--dedupe only-one: run {won[0]} ") for message in refused), refused
    with QueueStore(db) as store:
        assert [entry.id for entry in store.entries()] == won


def scratch_paths(tmp_path) -> Paths:
    env = {var: str(tmp_path / key) for key, var in ENV_OVERRIDES.items()}
    return resolve_paths(user_mode=False, env=env)


def test_existing_queue_is_none_and_creates_nothing_where_nothing_was_submitted(tmp_path):
    paths = scratch_paths(tmp_path)
    assert existing_queue(paths) is None
    assert not paths.queue_db.exists()
    assert not paths.state_dir.exists()


def test_existing_queue_reads_without_writing(tmp_path):
    paths = scratch_paths(tmp_path)
    with QueueStore(paths.queue_db) as store:
        store.add([queue_entry("a")])
    reader = existing_queue(paths)
    assert reader is not None
    with reader:
        assert [entry.id for entry in reader.entries()] == ["a"]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.remove("a")
    with QueueStore(paths.queue_db) as store:
        assert [entry.id for entry in store.entries()] == ["a"]
