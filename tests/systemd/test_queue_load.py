"""The queue under load and through what a server goes through, in a real systemd with the
real dockerd and two simulated 24 GiB GPUs: hundreds of runs, priorities, a starving big
run, dedupe keys, cancels, a cap per submitter, concurrent submitters, a dispatcher killed
half-way, sweeps, needs learned from history, a reboot and a power cut.

Everything is judged from what the queue and history record (`gpuagent queue --json`, the
runs' records), systemd's units and the processes in the box; never from how long a
thing took. One box serves the module; each test leaves the queue empty and the host's
rules and GPUs as they were."""

import itertools
import subprocess
import time
from collections import Counter

import pytest

from gpuagent.host.dockerd import LABEL_RUN
from gpuagent.host.historydb import HistoryStore
from gpuagent.runs.record import RunRecord
from tests.support.agent import wait_for
from tests.support.queue_box import GPU_A, GPU_B, GPU_TOTAL, GiB, queue_box

LOAD_RUNS = 200


@pytest.fixture(scope="module")
def qbox(tmp_path_factory):
    with queue_box(tmp_path_factory.mktemp("gpu-sim")) as box:
        yield box


@pytest.fixture(autouse=True)
def idle_host(qbox):
    """Each test starts and ends with idle GPUs, no gpuagent.toml and an empty queue."""
    qbox.gpus()
    qbox.configure(None)
    yield
    qbox.cancel_all()
    qbox.configure(None)
    qbox.gpus()


def gpu_submit(qbox, name: str, image: str, *command: str, vram: str = "10GiB", env=None, extra=()) -> str:
    return qbox.submit(
        "--name", name, "--gpus", "1", "--min-free-vram", vram, "--stop-grace", "1s", *extra, "--image", image, "--", *command, env=env
    )


def overlapping(run, others) -> list:
    """The runs of `others` on one of `run`'s GPUs that were running when `run` started."""
    return [o for o in others if set(o.gpu_uuids) & set(run.gpu_uuids) and o.started_at <= run.started_at < (o.ended_at or float("inf"))]


def no_gpuagent_resident(qbox, samples: int = 5) -> None:
    """No gpuagent process in the box and no queued run's unit up, seen over a few samples
    (the timer's dispatcher may be caught mid-way: it must be gone again at once)."""
    for _ in range(samples):
        wait_for(lambda: not qbox.resident(), timeout=20, interval=0.2, what=f"no gpuagent process in the box (saw {qbox.resident()})")
        assert not qbox.active_queued_units()
        time.sleep(0.5)


# -- 1. load ------------------------------------------------------------------------------


def test_200_runs_on_2_gpus_keep_order_never_overcommit_and_wait_with_nothing_resident(qbox, busybox_image):
    qbox.full()
    priority_of = {index: 80 if index % 3 == 0 else 50 for index in range(LOAD_RUNS)}
    script = "".join(
        f"gpuagent submit --name load --priority {priority_of[index]} --gpus 1 --min-free-vram 10GiB "
        f"--image {busybox_image} -- sh -c 'sleep 0.2' | cut -d' ' -f1\n"
        for index in range(LOAD_RUNS)
    )
    submitting = time.monotonic()
    ids = qbox.shell(script, timeout=600).stdout.split()
    submit_seconds = time.monotonic() - submitting
    assert len(ids) == LOAD_RUNS == len(set(ids))
    index_of = {run_id: index for index, run_id in enumerate(ids)}

    # All wait, and nothing of gpuagent waits with them.
    listed = qbox.entries()
    assert sorted(entry["run_id"] for entry in listed) == sorted(ids)
    assert {entry["state"] for entry in listed} == {"waiting"}
    no_gpuagent_resident(qbox)
    assert not qbox.runs("load")

    running = time.monotonic()
    qbox.gpus()
    done = qbox.ended("load", LOAD_RUNS, timeout=900)
    run_seconds = time.monotonic() - running
    print(f"\n{LOAD_RUNS} runs: submitted in {submit_seconds:.0f} s, ran in {run_seconds:.0f} s")

    assert sorted(run.run_id for run in done) == sorted(ids)
    assert Counter(run.status for run in done) == {"succeeded": LOAD_RUNS}, [(r.status, r.reason) for r in done if r.status != "succeeded"]
    assert {run.gpu_uuids for run in done} == {(GPU_A,), (GPU_B,)}
    assert {(run.vram_need, run.vram_need_source) for run in done} == {(10 * GiB, "given")}

    # No GPU over-committed: at each start, the runs then on its GPU need at most its memory.
    sharing = 0
    for run in done:
        together = overlapping(run, done)
        assert sum(o.vram_need for o in together) <= GPU_TOTAL, (run.run_id, [(o.run_id, o.started_at, o.ended_at) for o in together])
        sharing += len(together) > 1
    assert sharing, "two runs of 10 GiB fit a 24 GiB GPU: some must have shared one"

    # The order: priority, then submission. Every run needs the same, so backfill never
    # lets a later run pass: a run ahead in the queue started before any run behind it
    # had ended (runs started by one dispatch may come up in any order among themselves).
    ordered = sorted(done, key=lambda run: (-priority_of[index_of[run.run_id]], index_of[run.run_id]))
    latest_start = float("-inf")
    for ahead, behind in itertools.pairwise(ordered):
        latest_start = max(latest_start, ahead.started_at)
        assert latest_start <= behind.ended_at, f"run {behind.run_id} ended before run {ahead.run_id}, ahead of it in the queue, started"

    no_gpuagent_resident(qbox)
    timer = qbox.unit_state("gpuagent-dispatch.timer", "UnitFileState", "ActiveState")
    assert timer == {"UnitFileState": "disabled", "ActiveState": "inactive"}


# -- 2. starvation ------------------------------------------------------------------------


def test_a_big_run_gets_its_gpu_while_small_runs_keep_arriving(qbox, busybox_image):
    qbox.configure('[queue]\nstarvation_bound = "30s"\n')
    # Ends 3 s apart, as the slots they free are taken again at once: no GPU is ever
    # wholly free by chance, so the big run starts only because GPUs are held for it.
    first = [gpu_submit(qbox, "trickle", busybox_image, "sh", "-c", f"sleep {8 + 3 * i}") for i in range(4)]
    wait_for(
        lambda: [e["state"] for e in qbox.entries() if e["run_id"] in first] == ["running"] * 4, timeout=60, interval=0.5, what="4 small runs running"
    )
    big = gpu_submit(qbox, "big", busybox_image, "sh", "-c", "sleep 1", vram="20GiB")
    # Small runs queued behind the big one before the first ones end (well before the
    # bound), so that a slot freed on a GPU always finds one to take it.
    backlog = [gpu_submit(qbox, "trickle", busybox_image, "sh", "-c", "sleep 6") for _ in range(6)]
    qbox.background(
        "small-stream",
        "while :; do "
        f"id=$(gpuagent submit --name trickle --gpus 1 --min-free-vram 10GiB --stop-grace 1s --image {busybox_image} -- sh -c 'sleep 6' | cut -d' ' -f1); "
        'echo "$id $(date +%s.%N)" >> /root/stream.log; sleep 0.5; done',
    )

    def streamed() -> dict[str, float]:
        shown = qbox.box.exec(["sh", "-c", "cat /root/stream.log 2>/dev/null || true"]).stdout
        return {line.split()[0]: float(line.split()[1]) for line in shown.splitlines() if len(line.split()) == 2}

    def held_for_big():
        view = qbox.queue()
        held = [e for e in view["entries"] if e["name"] == "trickle" and "held for the head of the queue" in (e["why"] or "")]
        return view if view["held_for"] == big and held else None

    try:
        view = wait_for(held_for_big, timeout=120, interval=0.5, what=f"the GPUs held for the big run {big}")
        [big_run] = qbox.ended("big", 1, timeout=120)
        # The small runs were still arriving when the big one started.
        wait_for(lambda: max(streamed().values(), default=0) > big_run.started_at, timeout=30, what="a small run submitted after the big one started")
    finally:
        qbox.box.exec(["systemctl", "stop", "small-stream"], check=False)
    assert big_run.status == "succeeded", (big_run.status, big_run.reason)
    assert [e["state"] for e in view["entries"] if e["run_id"] == big] == ["waiting"]
    # Before the bound, small runs submitted after the big one passed it (backfill): it
    # really waited behind a stream that would have kept it waiting.
    passed = [run for run in qbox.runs("trickle") if run.run_id in {*backlog, *streamed()} and run.started_at < big_run.started_at]
    assert passed, (big_run.started_at, [(run.run_id in first, run.started_at, run.ended_at) for run in qbox.runs("trickle")])


# -- 3. dedupe -------------------------------------------------------------------------------


def test_a_dedupe_key_is_refused_while_its_run_waits_or_runs_and_free_once_it_ended(qbox, busybox_image):
    qbox.full()
    holder = gpu_submit(qbox, "deduped", busybox_image, "sh", "-c", "sleep 4", extra=("--dedupe", "eval-v3"))

    def refused(state: str) -> None:
        again = qbox.agent("submit", "--name", "second", "--dedupe", "eval-v3", "--image", busybox_image, "--", "true", check=False)
        assert again.returncode == 2, again
        assert holder in again.stderr and state in again.stderr, again.stderr
        assert [e["run_id"] for e in qbox.entries()] == [holder], "a refused submit queues nothing"

    refused("waiting")
    qbox.gpus()
    wait_for(lambda: [e["state"] for e in qbox.entries()] == ["running"], timeout=60, interval=0.5, what=f"run {holder} running")
    refused("running")
    [run] = qbox.ended("deduped", 1)
    assert run.status == "succeeded"
    assert not qbox.runs("second")
    again = qbox.submit("--name", "second", "--dedupe", "eval-v3", "--image", busybox_image, "--", "true")
    [second] = qbox.ended("second", 1)
    assert second.run_id == again and second.status == "succeeded"


# -- 4. cancel -------------------------------------------------------------------------------


def containers_of(run_id: str) -> list[str]:
    """The host's containers (any state) of a run, by the label gpuagent gives them."""
    listed = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label={LABEL_RUN}={run_id}"], capture_output=True, text=True, check=True)
    return listed.stdout.split()


def test_cancel_takes_out_a_waiting_run_stops_a_running_one_and_a_whole_sweep(qbox, busybox_image):
    qbox.gpus(used_b=GPU_TOTAL)
    running = gpu_submit(qbox, "cancelled", busybox_image, "sh", "-c", "sleep 300", vram="20GiB")
    wait_for(
        lambda: [e["state"] for e in qbox.entries()] == ["running"] and containers_of(running), timeout=60, what=f"run {running} in its container"
    )
    waiting = gpu_submit(qbox, "cancelled", busybox_image, "true", vram="20GiB")
    swept = qbox.agent(
        "submit", "--name", "swept", "--gpus", "1", "--min-free-vram", "20GiB", "--sweep", "x=1,2,3", "--image", busybox_image, "--", "true"
    ).stdout
    group = next(line.split()[1].rstrip(":") for line in swept.splitlines() if line.startswith("group "))
    sweep_ids = [line.split()[0] for line in swept.splitlines() if " queued as " in line]
    assert len(sweep_ids) == 3
    assert Counter(e["state"] for e in qbox.entries()) == {"waiting": 4, "running": 1}

    qbox.agent("cancel", "--group", group)
    qbox.agent("cancel", waiting)
    assert [e["run_id"] for e in qbox.entries()] == [running]
    qbox.agent("cancel", running, timeout=120)
    assert not qbox.entries()
    [stopped] = qbox.runs("cancelled")
    assert (stopped.run_id, stopped.status) == (running, "stopped")
    assert not containers_of(running), "the stopped run's container is removed"
    assert not qbox.runs("swept"), "a cancelled waiting run has no history"
    assert qbox.unit_state(f"gpuagent-queued@{running}.service", "ActiveState")["ActiveState"] in ("inactive", "failed")


# -- a run submitted while a dispatcher works ---------------------------------------------------


def test_a_run_submitted_during_a_dispatch_starts_without_waiting(qbox, busybox_image):
    # A dispatcher at work: it read the queue (run A) and waits for the admission lock,
    # which something else holds for a few seconds (as a scheduled run's admission does).
    qbox.box.exec(["mkdir", "-p", "/run/gpuagent"])
    qbox.background("admission-held", "exec flock /run/gpuagent/admission.lock sleep 6")
    first = gpu_submit(qbox, "merged", busybox_image, "sh", "-c", "sleep 30", vram="20GiB")
    wait_for(lambda: qbox.box.exec(["flock", "-n", "/run/gpuagent/queue.lock", "true"], check=False).returncode == 1, timeout=10, interval=0.05)
    time.sleep(1.5)  # it reads the queue, then asks for the admission lock
    second = gpu_submit(qbox, "merged", busybox_image, "sh", "-c", "sleep 30", vram="20GiB")
    wait_for(lambda: qbox.unit_state("admission-held.service", "ActiveState")["ActiveState"] != "active", timeout=20, interval=0.1)
    wait_for(
        lambda: all(qbox.unit_state(f"gpuagent-dispatch@{run}.service", "ActiveState")["ActiveState"] == "inactive" for run in (first, second)),
        timeout=20,
        interval=0.1,
        what="every dispatch the two submits asked for to end",
    )
    states = {e["run_id"]: e["state"] for e in qbox.entries()}
    assert states[first] != "waiting"
    assert states[second] != "waiting", "a GPU fits the second run, and every dispatch its submit asked for is over"


# -- 5. per-submitter cap ----------------------------------------------------------------------


def test_one_submitter_holds_at_most_the_cap_while_another_starts_on_the_second_gpu(qbox, busybox_image):
    qbox.configure("[queue]\nmax_gpus_per_submitter = 1\n")
    alice = [gpu_submit(qbox, "capped", busybox_image, "sh", "-c", "sleep 4", vram="20GiB", env={"SUDO_USER": "alice"}) for _ in range(2)]
    bob = gpu_submit(qbox, "capped", busybox_image, "sh", "-c", "sleep 4", vram="20GiB", env={"SUDO_USER": "bob"})

    def capped():
        why = [e["why"] for e in qbox.entries() if e["submitter"] == "alice" and e["state"] == "waiting"]
        return why if why and "alice holds 1 GPU(s) already; the cap is 1 per submitter" in why[0] else None

    wait_for(capped, timeout=30, interval=0.5, what="alice's second run waiting for her cap")
    done = {run.run_id: run for run in qbox.ended("capped", 3)}
    assert {run.status for run in done.values()} == {"succeeded"}
    assert {done[i].submitter for i in alice} == {"alice"} and done[bob].submitter == "bob"
    first, second = sorted((done[i] for i in alice), key=lambda run: run.started_at)
    assert second.started_at >= first.ended_at, "alice held two GPUs at once"
    assert first.started_at <= done[bob].started_at < first.ended_at, "bob's run started while alice's first ran"
    assert done[bob].gpu_uuids != first.gpu_uuids


# -- 6. concurrent submitters ------------------------------------------------------------------


def test_ten_concurrent_submitters_queue_ten_runs_and_all_run(qbox, busybox_image):
    qbox.full()
    submitted = qbox.shell(
        "for i in $(seq 10); do "
        f"(gpuagent submit --name crowd --gpus 1 --min-free-vram 10GiB --image {busybox_image} -- true > /tmp/crowd.$i || echo submit $i failed >&2) & "
        "done; wait; cat /tmp/crowd.*"
    )
    assert "failed" not in submitted.stderr, submitted.stderr
    ids = [line.split()[0] for line in submitted.stdout.splitlines()]
    assert len(ids) == len(set(ids)) == 10
    assert sorted(e["run_id"] for e in qbox.entries()) == sorted(ids)
    qbox.gpus()
    done = qbox.ended("crowd", 10)
    assert sorted(run.run_id for run in done) == sorted(ids)
    assert {run.status for run in done} == {"succeeded"}


# -- 9. sweeps -----------------------------------------------------------------------------------


def test_a_sweep_queues_each_combination_with_its_values_under_one_group(qbox, busybox_image):
    shown = qbox.agent(
        "submit", "--name", "sweep", "--sweep", "lr=1,2", "--sweep", "b=x,y", "--image", busybox_image, "--",
        "sh", "-c", 'echo "values lr=$GPUAGENT_SWEEP_lr b=$GPUAGENT_SWEEP_b"',
    ).stdout  # fmt: skip
    ids = [line.split()[0] for line in shown.splitlines() if " queued as " in line]
    group = next(line.split()[1].rstrip(":") for line in shown.splitlines() if line.startswith("group "))
    assert len(ids) == 4
    done = qbox.ended("sweep", 4)
    assert sorted(run.run_id for run in done) == sorted(ids)
    assert {run.status for run in done} == {"succeeded"}
    assert {run.group_id for run in done} == {group}
    assert sorted((run.params["lr"], run.params["b"]) for run in done) == [("1", "x"), ("1", "y"), ("2", "x"), ("2", "y")]
    for run in done:
        assert f"values lr={run.params['lr']} b={run.params['b']}" in qbox.journal(f"gpuagent-queued@{run.run_id}.service")
    with HistoryStore(qbox.history_path, read_only=True) as history:
        assert sorted(run.run_id for run in history.group_runs(group)) == sorted(ids)


# -- 10. learned VRAM ----------------------------------------------------------------------------


def test_needs_learned_from_history_let_two_small_runs_share_a_gpu(qbox, busybox_image):
    now = time.time()
    qbox.history_path.parent.mkdir(parents=True, exist_ok=True)
    with HistoryStore(qbox.history_path) as history:
        for past in range(2):
            history.save(
                RunRecord(
                    run_id=f"learned{past}",
                    job="queue/small",
                    invocation_id=None,
                    agent_pid=None,
                    started_at=now - 600 + past,
                    ended_at=now - 500 + past,
                    status="succeeded",
                    exit_code=0,
                    reason=None,
                    gpu_uuids=(GPU_A,),
                    image=busybox_image,
                    container_id=None,
                    peak_vram_bytes=4 * GiB,
                )
            )
    qbox.gpus(used_a=12 * GiB, used_b=GPU_TOTAL)
    ids = [gpu_submit(qbox, "small", busybox_image, "sh", "-c", "sleep 4", vram="auto") for _ in range(2)]
    done = [run for run in qbox.ended("small", 4) if run.run_id in ids]
    assert {run.status for run in done} == {"succeeded"}
    assert {run.gpu_uuids for run in done} == {(GPU_A,)}
    one, other = done
    assert one.started_at < other.ended_at and other.started_at < one.ended_at, "the two small runs ran at once"
    for run in done:
        assert abs(run.vram_need - 4.8 * GiB) < 1 << 20, run.vram_need
        assert "queue/small" in run.vram_need_source and "2 recent successful runs" in run.vram_need_source, run.vram_need_source

    # With no history to learn from, the default need: two never share a 24 GiB GPU.
    qbox.gpus(used_b=GPU_TOTAL)
    fresh = [gpu_submit(qbox, "fresh", busybox_image, "sh", "-c", "sleep 2", vram="auto") for _ in range(2)]
    done = qbox.ended("fresh", 2)
    assert sorted(run.run_id for run in done) == sorted(fresh)
    assert {(run.vram_need, run.status) for run in done} == {(16 * GiB, "succeeded")}
    assert all("default" in run.vram_need_source for run in done)
    first, second = sorted(done, key=lambda run: run.started_at)
    assert second.started_at >= first.ended_at, "two runs of 16 GiB shared a 24 GiB GPU"


# -- 7. a dispatcher killed half-way -------------------------------------------------------------

# systemctl for a dispatcher to be killed in: it hangs when asked to start a queued run's
# unit, so the dispatcher is killed after it claimed GPUs and marked its runs starting and
# before any of their units started: the middle of its work, every time.
HANGING_SYSTEMCTL = """#!/bin/sh
case "$*" in *gpuagent-queued@*) exec sleep 600;; esac
exec /usr/bin/systemctl "$@"
"""


def kill_a_dispatcher_half_way(qbox) -> None:
    """Free the GPUs and kill the dispatcher that takes the waiting runs, half-way."""
    qbox.box.write_file("/root/hanging-bin/systemctl", HANGING_SYSTEMCTL, mode=0o755)
    # The timer's dispatcher must not take the runs first; it runs again once this one died.
    qbox.box.exec(["systemctl", "stop", "gpuagent-dispatch.timer"])
    qbox.dispatchers_done()  # each submit's own dispatcher too
    qbox.gpus()
    killed = qbox.shell("PATH=/root/hanging-bin:$PATH timeout -s KILL 10 gpuagent dispatch; echo $?", timeout=60).stdout.split()[-1]
    qbox.box.exec(["rm", "-r", "/root/hanging-bin"])  # timeout killed the hanging systemctl with the dispatcher (its group)
    assert killed == "137", "the dispatcher was not killed"
    assert "starting" in {e["state"] for e in qbox.entries()}, "the dispatcher died before it started anything"
    qbox.box.exec(["systemctl", "start", "gpuagent-dispatch.timer"])


def ran_exactly_once(qbox, name: str, ids: list[str]) -> None:
    done = qbox.ended(name, len(ids), timeout=120)
    assert sorted(run.run_id for run in done) == sorted(ids), "every run recorded once, none lost"
    assert {run.status for run in done} == {"succeeded"}, [(r.status, r.reason) for r in done]
    for run_id in ids:
        assert qbox.journal(f"gpuagent-queued@{run_id}.service").count("ran once") == 1, f"run {run_id} did not run exactly once"
    assert not qbox.entries()
    wait_for(lambda: not qbox.live_claims(), timeout=90, interval=2, what=f"no claim left (saw {qbox.live_claims()})")


def test_runs_a_killed_dispatcher_was_starting_run_once_while_others_wait(qbox, busybox_image):
    qbox.full()
    ids = [gpu_submit(qbox, "killed", busybox_image, "sh", "-c", "echo ran once; sleep 1") for _ in range(6)]
    kill_a_dispatcher_half_way(qbox)
    ran_exactly_once(qbox, "killed", ids)


def test_runs_a_killed_dispatcher_was_starting_run_once_when_none_waits(qbox, busybox_image):
    qbox.full()
    ids = [gpu_submit(qbox, "stranded", busybox_image, "sh", "-c", "echo ran once; sleep 1") for _ in range(2)]
    kill_a_dispatcher_half_way(qbox)
    ran_exactly_once(qbox, "stranded", ids)


# -- 8. a reboot and a power cut -------------------------------------------------------------------


def test_after_a_reboot_waiting_runs_start_and_the_running_one_is_closed(qbox, busybox_image):
    qbox.gpus(used_b=GPU_TOTAL)
    running = gpu_submit(qbox, "rebooted", busybox_image, "sh", "-c", "sleep 600", vram="20GiB")
    wait_for(
        lambda: [e["state"] for e in qbox.entries()] == ["running"] and containers_of(running), timeout=60, what=f"run {running} in its container"
    )
    waiting = [gpu_submit(qbox, "after-reboot", busybox_image, "echo", "after the reboot", vram="20GiB") for _ in range(2)]

    qbox.box.reboot()
    assert {e["run_id"]: e["state"] for e in qbox.entries()} == {run_id: "waiting" for run_id in waiting}
    done = qbox.ended("after-reboot", 2, timeout=120)
    assert sorted(run.run_id for run in done) == sorted(waiting)
    assert {run.status for run in done} == {"succeeded"}
    # The shutdown stopped the running run's unit: its agent stopped the container (its
    # stop grace) and recorded the run lost, saying the host shut down.
    [closed] = qbox.runs("rebooted")
    assert (closed.run_id, closed.status) == (running, "lost"), (closed.status, closed.reason)
    assert "shut down" in closed.reason
    assert not containers_of(running)


def test_after_a_power_cut_waiting_runs_start_and_the_running_one_is_recorded_lost(qbox, busybox_image):
    qbox.gpus(used_b=GPU_TOTAL)
    running = gpu_submit(qbox, "powered", busybox_image, "sh", "-c", "sleep 600", vram="20GiB")
    wait_for(
        lambda: [e["state"] for e in qbox.entries()] == ["running"] and containers_of(running), timeout=60, what=f"run {running} in its container"
    )
    waiting = [gpu_submit(qbox, "after-boot", busybox_image, "echo", "after the boot", vram="20GiB") for _ in range(2)]

    qbox.box.power_cycle()
    listed = {e["run_id"]: e["state"] for e in qbox.entries()}
    assert listed == {running: "running", **{run_id: "waiting" for run_id in waiting}}, listed
    assert qbox.unit_state("gpuagent-dispatch.timer", "UnitFileState") == {"UnitFileState": "enabled"}
    # Nothing is asked of the box from here: its dispatch timer looks at the queue after the boot.
    done = qbox.ended("after-boot", 2, timeout=120)
    assert sorted(run.run_id for run in done) == sorted(waiting)
    assert {run.status for run in done} == {"succeeded"}
    [lost] = qbox.runs("powered")
    assert (lost.run_id, lost.status) == (running, "lost"), (lost.status, lost.reason)
    assert not containers_of(running), "the lost run's container is reaped"
    assert not qbox.entries()


# -- 11. dockerd restarting: not tested here. The host's one dockerd serves every test
# running on it at the same time; restarting it would fail theirs.
