"""The VRAM a run asks admission for (runs/vramneed.py): a size given stands; auto learns
from the peaks of recent successful runs, plus a margin, or falls back to a stated default."""

from gpuagent.runs.vramneed import AUTO_DEFAULT, GIVEN, LEARN_FROM_RUNS, vram_need

GiB = 1 << 30
MiB = 1 << 20


def test_a_given_size_passes_through_whatever_the_history():
    for peaks in ([], [70 * GiB]):
        need = vram_need(20 * GiB, peaks, "nightly")
        assert (need.bytes, need.source) == (20 * GiB, GIVEN)


def test_no_size_given_means_any_gpu_will_do():
    need = vram_need(None, [70 * GiB], "nightly")
    assert (need.bytes, need.source) == (None, GIVEN)


def test_auto_with_no_peaks_takes_the_default_and_says_so():
    need = vram_need("auto", [], "queue/train")
    assert need.bytes == AUTO_DEFAULT == 16 * GiB
    assert need.source == "auto: no successful run of queue/train recorded its GPU memory yet, so the default 16GiB"


def test_auto_takes_the_highest_recent_peak_plus_a_fifth():
    need = vram_need("auto", [10 * GiB, 18 * GiB, 12 * GiB], "queue/train")
    assert need.bytes == round(18 * GiB * 1.2)
    assert need.source == "auto: peak 18GiB of queue/train's 3 recent successful runs, plus 20% (at least 512MiB)"


def test_the_margin_is_at_least_512_mib():
    need = vram_need("auto", [1 * GiB], "queue/tiny")
    assert need.bytes == 1 * GiB + 512 * MiB
    assert "1 recent successful run," in need.source


def test_only_the_newest_runs_count():
    """Peaks come newest first: an old, much larger one no longer counts."""
    newest = [4 * GiB] * LEARN_FROM_RUNS
    need = vram_need("auto", [*newest, 60 * GiB], "queue/train")
    assert need.bytes == 4 * GiB + round(4 * GiB * 0.2)
    assert "5 recent successful runs" in need.source


def test_zero_and_negative_peaks_are_ignored():
    need = vram_need("auto", [0, -1, 10 * GiB], "queue/train")
    assert need.bytes == 12 * GiB
    assert "1 recent successful run," in need.source


def test_runs_without_a_peak_do_not_take_the_place_of_older_ones_that_have_one():
    need = vram_need("auto", [0] * LEARN_FROM_RUNS + [10 * GiB], "queue/train")
    assert need.bytes == 12 * GiB


def test_only_zero_peaks_is_no_history():
    assert vram_need("auto", [0, 0, -5], "queue/train").bytes == AUTO_DEFAULT


def test_the_source_names_every_history_name_learned_from():
    need = vram_need("auto", [10 * GiB], "queue/train and nightly")
    assert "of queue/train and nightly's 1 recent successful run" in need.source
