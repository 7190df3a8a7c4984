"""How much free GPU memory a run asks admission for: the job's --min-free-vram, or (auto)
what its own recent successful runs used at their peak, plus a margin.

Every queue tool makes its users guess this number; the history already holds the answer
(each run's peak_vram_bytes, sampled from NVML while it ran). A margin covers run-to-run
variation; with no run to learn from, a stated default stands in. Pure: the caller reads
the peaks from history (host/historydb.py's recent_peaks).
"""

from dataclasses import dataclass

from gpuagent.core.quantities import format_size
from gpuagent.jobs.settings import AUTO_VRAM

GiB = 1 << 30
MiB = 1 << 20
AUTO_DEFAULT = 16 * GiB  # auto with no successful run to learn from
AUTO_MARGIN = 0.20  # on top of the highest recent peak...
AUTO_MARGIN_AT_LEAST = 512 * MiB  # ...and never less than this
LEARN_FROM_RUNS = 5  # the recent successful runs whose peaks count
GIVEN = "given"


@dataclass(frozen=True)
class VramNeed:
    """Bytes of free memory each chosen GPU must have (None: any GPU will do), and where
    that number came from, in words that `show`, `queue` and the run's record repeat."""

    bytes: int | None
    source: str


def vram_need(min_free_vram: int | str | None, peaks: list[int], learned_from: str) -> VramNeed:
    """The need for a run whose setting is `min_free_vram`; for auto, from `peaks` (the
    peak VRAM of `learned_from`'s recent successful runs, newest first)."""
    if min_free_vram != AUTO_VRAM:
        return VramNeed(min_free_vram, GIVEN)  # type: ignore[arg-type]  # int or None here
    counted = [peak for peak in peaks if peak > 0][:LEARN_FROM_RUNS]  # a run that recorded no peak is not one to learn from
    if not counted:
        return VramNeed(
            AUTO_DEFAULT, f"auto: no successful run of {learned_from} recorded its GPU memory yet, so the default {format_size(AUTO_DEFAULT)}"
        )
    peak = max(counted)
    need = peak + max(round(peak * AUTO_MARGIN), AUTO_MARGIN_AT_LEAST)
    runs = f"{len(counted)} recent successful run{'s' if len(counted) > 1 else ''}"
    return VramNeed(
        need, f"auto: peak {format_size(peak)} of {learned_from}'s {runs}, plus {AUTO_MARGIN:.0%} (at least {format_size(AUTO_MARGIN_AT_LEAST)})"
    )
