"""gpu.py through the real pynvml, against the fake libnvidia-ml.so.1 (tests/gpu_sim)."""

import pynvml
import pytest

from gpuagent.core.errors import NvmlUnavailable
from gpuagent.host.nvml import GpuProcess, GpuSnapshot, driver_version, read_gpus
from tests.gpu_sim import FakeGpu, FakeGpuHost, GiB

UUID_A = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
UUID_B = "GPU-bbbbbbbb-0000-0000-0000-000000000000"
MiB = 1 << 20


def snapshot(index: int, uuid: str, **fields) -> GpuSnapshot:
    defaults = dict(
        name="NVIDIA H100 80GB HBM3",
        total_bytes=80 * GiB,
        used_bytes=0,
        free_bytes=80 * GiB,
        utilization_pct=0,
        processes=(),
        temperature_c=35,
        power_watts=70.0,
    )
    return GpuSnapshot(index=index, uuid=uuid, **{**defaults, **fields})


def test_reads_every_gpu_with_its_numbers(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update(
        [
            FakeGpu(UUID_A, used=GiB, util=3),
            FakeGpu(UUID_B, name="NVIDIA A100-SXM4-40GB", total=40 * GiB, used=30 * GiB, util=97),
        ]
    )

    assert read_gpus() == [
        snapshot(0, UUID_A, used_bytes=GiB, free_bytes=79 * GiB, utilization_pct=3),
        snapshot(
            1,
            UUID_B,
            name="NVIDIA A100-SXM4-40GB",
            total_bytes=40 * GiB,
            used_bytes=30 * GiB,
            free_bytes=10 * GiB,
            utilization_pct=97,
        ),
    ]


def test_lists_compute_and_graphics_processes_once_each(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update(
        [
            FakeGpu(
                UUID_A,
                processes=[(1234, GiB), (5678, None)],
                graphics_processes=[(42, 256 * MiB), (1234, GiB)],
            )
        ]
    )

    [gpu] = read_gpus()

    assert gpu.processes == (
        GpuProcess(pid=1234, used_bytes=GiB),
        GpuProcess(pid=5678, used_bytes=None),
        GpuProcess(pid=42, used_bytes=256 * MiB),
    )


@pytest.mark.parametrize(("state", "error"), [("lost", "GPU is lost"), ("unknown", "Unknown Error")])
def test_a_failing_gpu_is_unavailable_and_the_others_still_read(fake_gpus: FakeGpuHost, state: str, error: str) -> None:
    fake_gpus.update([FakeGpu(UUID_A, state=state), FakeGpu(UUID_B, used=GiB)])

    failed, healthy = read_gpus()

    assert failed == GpuSnapshot(
        index=0,
        uuid="",
        name=None,
        total_bytes=None,
        used_bytes=None,
        free_bytes=None,
        utilization_pct=None,
        processes=(),
        error=error,
    )
    assert not failed.available
    assert healthy == snapshot(1, UUID_B, used_bytes=GiB, free_bytes=79 * GiB)
    assert healthy.available


def test_temperature_and_power_are_read_and_none_where_unsupported(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update([FakeGpu(UUID_A, temp=81, power=312_500), FakeGpu(UUID_B, unsupported={"temp", "power"})])

    hot, bare = read_gpus()

    assert (hot.temperature_c, hot.power_watts) == (81, 312.5)
    assert (bare.temperature_c, bare.power_watts) == (None, None)
    assert bare.available


def test_an_unsupported_utilisation_is_none(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update([FakeGpu(UUID_A, used=GiB, unsupported={"util"})])

    [gpu] = read_gpus()

    assert gpu == snapshot(0, UUID_A, used_bytes=GiB, free_bytes=79 * GiB, utilization_pct=None)
    assert gpu.available


def test_display_figures_that_fail_with_any_error_are_none_and_the_gpu_stays_usable(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update([FakeGpu(UUID_A, used=GiB, failing={"name", "temp", "power", "util"})])

    [gpu] = read_gpus()

    assert gpu == snapshot(0, UUID_A, name=None, used_bytes=GiB, free_bytes=79 * GiB, utilization_pct=None, temperature_c=None, power_watts=None)
    assert gpu.available


def test_a_memory_query_that_fails_marks_the_gpu_unavailable(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update([FakeGpu(UUID_A, failing={"used"}), FakeGpu(UUID_B)])

    failed, healthy = read_gpus()

    assert (failed.uuid, failed.error, failed.available) == (UUID_A, "Unknown Error", False)
    assert healthy.available


def test_a_gpu_without_memory_figures_is_not_available(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update([FakeGpu(UUID_A, unsupported={"used"})])

    [gpu] = read_gpus()

    assert gpu == snapshot(0, UUID_A, total_bytes=None, used_bytes=None, free_bytes=None)
    assert not gpu.available


def test_a_gpu_that_cannot_list_processes_still_reads(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update([FakeGpu(UUID_A, processes=[(1234, GiB)], unsupported={"procs"})])

    [gpu] = read_gpus()

    assert gpu == snapshot(0, UUID_A)


def test_no_driver_raises_nvml_unavailable_with_a_hint(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.state_file.unlink()

    with pytest.raises(NvmlUnavailable) as raised:
        read_gpus()

    assert raised.value.message == "NVIDIA driver not usable: NVML says Driver Not Loaded"
    assert "--gpus" in raised.value.hint
    assert driver_version() is None


def test_driver_version(fake_gpus: FakeGpuHost) -> None:
    assert driver_version() == "550.54.15"


def test_the_next_read_sees_numbers_changed_on_disk(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update([FakeGpu(UUID_A, used=GiB, processes=[(1234, GiB)])])
    before = read_gpus()

    fake_gpus.update([FakeGpu(UUID_A, used=70 * GiB, util=99, processes=[(1234, 70 * GiB)])])

    assert before[0].free_bytes == 79 * GiB
    assert read_gpus() == [
        snapshot(
            0,
            UUID_A,
            used_bytes=70 * GiB,
            free_bytes=10 * GiB,
            utilization_pct=99,
            processes=(GpuProcess(1234, 70 * GiB),),
        )
    ]


def test_nvml_is_shut_down_after_every_read(fake_gpus: FakeGpuHost) -> None:
    fake_gpus.update([FakeGpu(UUID_A, state="lost"), FakeGpu(UUID_B)])

    read_gpus()
    driver_version()

    with pytest.raises(pynvml.NVMLError_Uninitialized):
        pynvml.nvmlDeviceGetCount()
