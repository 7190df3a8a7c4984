from gpuagent.host.nvml import GpuProcess, GpuSnapshot
from gpuagent.runs.admission import Needs, decide

GiB = 1024**3


def gpu(index: int, free_gib: float | None, total_gib: int = 80, error: str | None = None, util: int | None = 0, pids=()) -> GpuSnapshot:
    free = None if free_gib is None else int(free_gib * GiB)
    return GpuSnapshot(
        index=index,
        uuid=f"GPU-{index:08d}-0000-0000-0000-000000000000",
        name="NVIDIA H100 80GB HBM3",
        total_bytes=total_gib * GiB,
        used_bytes=None if free is None else total_gib * GiB - free,
        free_bytes=free,
        utilization_pct=util,
        processes=tuple(GpuProcess(pid, GiB) for pid in pids),
        error=error,
    )


def test_best_fit_takes_the_gpu_with_least_free_memory_that_is_enough():
    gpus = [gpu(0, 70), gpu(1, 25), gpu(2, 10)]
    decision = decide(gpus, Needs(1, 20 * GiB))
    assert decision.admitted
    assert decision.gpu_uuids == (gpus[1].uuid,)


def test_without_a_minimum_the_roomiest_gpus_are_chosen():
    gpus = [gpu(0, 5), gpu(1, 60), gpu(2, 30)]
    decision = decide(gpus, Needs(2, None))
    assert decision.gpu_uuids == (gpus[1].uuid, gpus[2].uuid)


def test_multi_gpu_job_needs_every_chosen_gpu_to_fit():
    gpus = [gpu(0, 30), gpu(1, 10)]
    decision = decide(gpus, Needs(2, 20 * GiB))
    assert not decision.admitted
    assert decision.gpu_uuids == ()


def test_refusal_names_the_best_free_figure():
    gpus = [gpu(0, 12.5), gpu(1, 3)]
    decision = decide(gpus, Needs(1, 20 * GiB))
    assert not decision.admitted
    assert "20GiB" in decision.reason
    assert "best free is 12.5GiB on GPU 0" in decision.reason


def test_allowed_gpus_restrict_by_index_or_uuid():
    gpus = [gpu(0, 70), gpu(1, 30), gpu(2, 40)]
    by_index = decide(gpus, Needs(1, 20 * GiB, allowed=("0", "2")))
    assert by_index.gpu_uuids == (gpus[2].uuid,)
    by_uuid = decide(gpus, Needs(1, None, allowed=(gpus[1].uuid,)))
    assert by_uuid.gpu_uuids == (gpus[1].uuid,)


def test_unreadable_gpus_are_never_chosen_and_counted_in_the_reason():
    gpus = [gpu(0, None, error="GPU is lost"), gpu(1, 8)]
    decision = decide(gpus, Needs(1, 20 * GiB))
    assert not decision.admitted
    assert "1 GPU(s) unavailable" in decision.reason
    assert decide(gpus, Needs(1, None)).gpu_uuids == (gpus[1].uuid,)


def test_a_named_gpu_that_does_not_exist_is_said():
    decision = decide([gpu(0, 70)], Needs(1, allowed=("3",)))
    assert not decision.admitted
    assert "no GPU matches 3" in decision.reason


def test_max_util_refuses_busy_gpus_and_unknown_utilisation():
    gpus = [gpu(0, 70, util=95), gpu(1, 70, util=None), gpu(2, 30, util=10)]
    assert decide(gpus, Needs(1, max_util=50)).gpu_uuids == (gpus[2].uuid,)
    refused = decide(gpus[:2], Needs(1, max_util=50))
    assert not refused.admitted and "2 GPU(s) refused by --max-gpu-util" in refused.reason


def test_exclusive_refuses_gpus_with_processes_gpuagent_did_not_start():
    gpus = [gpu(0, 70, pids=[111]), gpu(1, 40, pids=[222])]
    assert decide(gpus, Needs(1, exclusive=True), own_pids=frozenset({222})).gpu_uuids == (gpus[1].uuid,)
    assert not decide(gpus, Needs(1, exclusive=True)).admitted
    assert decide(gpus, Needs(1)).gpu_uuids == (gpus[0].uuid,)
