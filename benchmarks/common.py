"""Timing helpers: interleaved repeats and medians, so compared things share the same machine state."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_times(fns: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each function, run round-robin ``repeats`` times after ``warmup`` rounds."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in samples.items()}


def cold_median(fn: Callable[[], object], clear: Callable[[], None], repeats: int) -> float:
    """Median seconds of ``fn`` with ``clear()`` (emptying its caches) before each run, untimed."""
    samples = []
    for _ in range(repeats):
        clear()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cpu_ticks() -> tuple[int, int]:
    """(ticks stolen by the host, all ticks) of this machine so far (Linux's /proc/stat; (0, 0) elsewhere): a
    virtual machine's neighbours take its CPUs at times, which shows as a slow run of either side."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def stolen(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The fraction of the CPUs' time stolen between two ``cpu_ticks``."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0
