"""One pass over a block's output on the CPU for every per-(image, channel) number a dataset run keeps.

Each number alone is one torch reduction, and together they read the output five times (sum, sum of squares,
maximum with its position, positives), some of them slowly: on a channels-last output (what a CPU forward of a
uint8 batch makes) the position of a maximum along a strided axis alone costs as much as a fifth of the forward.
A kernel compiled by Numba reads each value once, accumulates in float64, and runs on the batch's images in as
many threads as torch uses, the GIL released; it is compiled once per machine and cached (``cache=True``).

Numba is optional (``pip install .[fast]``; the app's set-up installs it): without it a CPU output is reduced by
torch's reductions (``stats.device_pairs``, as on a GPU) and the batches are combined and merged by numpy
(``combine_numpy``, ``merge_top_numpy``), giving the same statistics to float rounding and the same top images
(``benchmarks/dataset.py`` measures what the kernels save).
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
    positions_last: Callable | None  # None without Numba: a CPU output is then reduced by torch (device_pairs)
    channels_last: Callable | None
    combine: Callable
    merge_top: Callable


def _compiled() -> Kernels:  # compiled, or loaded from numba's cache, on first use; numpy's without Numba
    try:
        from . import compiled
    except ImportError:  # Numba is optional (pip install .[fast]): the same numbers, to rounding, more slowly
        return Kernels(None, None, combine_numpy, merge_top_numpy)
    return Kernels(compiled.positions_last, compiled.channels_last, compiled.combine, compiled.merge_top)


def combine_numpy(s, m2, mx, arg, pos, images, p, w, o_sum, o_m2, o_max, o_pos, t_val, t_img, t_y, t_x) -> None:  # noqa: ANN001 - compiled.combine's arrays
    """``compiled.combine`` in numpy, in the same order of operations (but for its fused multiply-adds)."""
    n_, kk = s.shape[0], t_val.shape[1]
    o_sum[:], o_m2[:], o_pos[:], o_max[:] = s.sum(0), m2.sum(0), pos.sum(0), mx.max(0)  # (a NaN stays, as numpy's)
    for n in range(n_):  # the images' means' spread about the batch's, image by image as the kernel adds it
        d = s[n] / p - o_sum / (n_ * p)
        o_m2 += d * d * p
    order = np.argsort(-mx, axis=0, kind="stable")[:kk].T  # C×k': best first, ties to the earlier image, NaN last
    rows = np.arange(mx.shape[1])[:, None]
    t_val[:], t_img[:] = mx[order, rows], images[order]
    where = arg[order, rows]
    t_y[:], t_x[:] = where // w, where % w


def merge_top_numpy(va, ia, ya, xa, vb, ib, yb, xb, ov, oi, oy, ox) -> None:  # noqa: ANN001 - compiled.merge_top's arrays
    """``compiled.merge_top`` in numpy: the two lists one after the other, stably sorted, the first k kept."""
    k = ov.shape[1]
    order = np.argsort(-np.concatenate([va, vb], axis=1), axis=1, kind="stable")[:, :k]
    for out, a, b in ((ov, va, vb), (oi, ia, ib), (oy, ya, yb), (ox, xa, xb)):
        out[:] = np.take_along_axis(np.concatenate([a, b], axis=1), order, axis=1)


_KERNELS: Kernels | None = None
_LOADING = threading.Lock()


def load() -> Kernels:
    """The kernels (a block's pairs on the CPU, a batch's combination, the top-k merge), compiled or loaded from
    numba's cache on the first call (about a second: a run starts it in a thread while its model is built); numpy's
    where Numba is not installed."""
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


__all__ = ["Kernels", "Pairs", "combine_numpy", "cpu_pairs", "load", "merge_top_numpy"]
