"""One pass over a block's output on the CPU for every per-(image, channel) number a dataset run keeps.

Each number alone is one torch reduction, and together they read the output five times (sum, sum of squares,
maximum with its position, positives), some of them slowly: on a channels-last output (what a CPU forward of a
uint8 batch makes) the position of a maximum along a strided axis alone costs as much as a fifth of the forward.
A kernel compiled by Numba reads each value once, accumulates in float64, and runs on the batch's images in as
many threads as torch uses, the GIL released; it is compiled once per machine and cached (``cache=True``).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

_POOL: ThreadPoolExecutor | None = None


@dataclass
class Pairs:
    """Per (image, channel), N×C each: the sum, the sum of squared deviations from the pair's mean, the maximum
    and where it is (the first such position, as ``argmax``; a NaN is the maximum, as numpy's and torch's), and
    the positions above 0."""

    sum: np.ndarray  # float64
    m2: np.ndarray  # float64
    max: np.ndarray  # float32 (the output's dtype on the CPU)
    argmax: np.ndarray  # int64
    positive: np.ndarray  # int64


class Kernels(NamedTuple):
    positions_last: Callable
    channels_last: Callable
    combine: Callable
    merge_top: Callable


def _compiled() -> Kernels:  # compiled, or loaded from numba's cache, on first use
    from . import compiled

    return Kernels(compiled.positions_last, compiled.channels_last, compiled.combine, compiled.merge_top)


_KERNELS: Kernels | None = None
_LOADING = threading.Lock()


def load() -> Kernels:
    """The kernels (a block's pairs on the CPU, a batch's combination, the top-k merge), compiled or loaded from
    numba's cache on the first call (about a second: a run starts it in a thread while its model is built)."""
    global _KERNELS
    with _LOADING:
        if _KERNELS is None:
            _KERNELS = _compiled()
    return _KERNELS


def cpu_pairs(y, threads: int) -> Pairs:  # noqa: ANN001 - a CPU torch tensor, N×C×H×W
    """The per-(image, channel) numbers of a CPU output, in one pass, its images split over ``threads``."""
    import torch

    global _POOL
    kernels = load()
    if y.dtype not in (torch.float32, torch.float64):
        y = y.float()
    n, c, h, w = y.shape
    if y.is_contiguous():
        a, kernel = y.reshape(n, c, h * w).numpy(), kernels.positions_last
    elif y.is_contiguous(memory_format=torch.channels_last):
        a, kernel = y.permute(0, 2, 3, 1).reshape(n, h * w, c).numpy(), kernels.channels_last
    else:
        a, kernel = y.contiguous().reshape(n, c, h * w).numpy(), kernels.positions_last
    out = Pairs(np.empty((n, c)), np.empty((n, c)), np.empty((n, c), a.dtype), np.empty((n, c), np.int64),
                np.empty((n, c), np.int64))
    parts = [slice(lo[0], lo[-1] + 1) for lo in np.array_split(np.arange(n), max(1, min(threads, n)))]

    def one(rows: slice) -> None:
        kernel(a[rows], out.sum[rows], out.m2[rows], out.max[rows], out.argmax[rows], out.positive[rows])

    if len(parts) == 1:
        one(parts[0])
    else:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="explorer-reduce")
        for f in [_POOL.submit(one, rows) for rows in parts]:
            f.result()
    return out


__all__ = ["Kernels", "Pairs", "cpu_pairs", "load"]
