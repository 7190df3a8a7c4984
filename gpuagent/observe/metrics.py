"""Prometheus metrics of the jobs. (Being built: stub.)"""

from collections.abc import Callable, Sequence

from gpuagent.paths import Paths


def refresh(paths: Paths, log: Callable[[str], None], jobs: Sequence[str] | None = None) -> None:
    """Rewrite the metrics files of `jobs` (all jobs when None) and the host's."""
