"""Per-(block, channel) statistics of block outputs over a dataset, as partials that merge exactly.

A batch's outputs are reduced where they are (on the device), the moment each block makes them, into a
``Partial``: sums and sums of squares (float64), position counts, maxima, counts of positions above 0, and each
channel's top-k images by its spatial maximum with where that maximum is. Partials merge by addition, maximum
and a stable top-k merge, so a run over any number of images keeps O(blocks × channels × k), and partials made
anywhere (a DataLoader loop, a Ray actor, a resumed run) merged in the same order give the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FIELDS = ("sum", "sumsq", "count", "max", "positive", "top_value", "top_image", "top_y", "top_x")


@dataclass
class Partial:
    """One block's statistics over some images."""

    sum: np.ndarray  # (C,) float64
    sumsq: np.ndarray  # (C,) float64
    count: np.ndarray  # (C,) int64: positions seen per channel
    max: np.ndarray  # (C,) float32
    positive: np.ndarray  # (C,) int64: positions above 0
    top_value: np.ndarray  # (C, k') float32, best first
    top_image: np.ndarray  # (C, k') int64: index in the dataset's image list
    top_y: np.ndarray  # (C, k') int32: where the channel's maximum is, at the block's resolution
    top_x: np.ndarray

    def merge(self, other: Partial, k: int) -> Partial:
        """This partial, then ``other`` (images after these: ties go to the earlier image)."""
        value = np.concatenate([self.top_value, other.top_value], axis=1)
        order = np.argsort(-value, axis=1, kind="stable")[:, :k]
        take = lambda a, b: np.take_along_axis(np.concatenate([a, b], axis=1), order, axis=1)  # noqa: E731
        return Partial(self.sum + other.sum, self.sumsq + other.sumsq, self.count + other.count,
                       np.maximum(self.max, other.max), self.positive + other.positive,
                       np.take_along_axis(value, order, axis=1), take(self.top_image, other.top_image),
                       take(self.top_y, other.top_y), take(self.top_x, other.top_x))

    def arrays(self) -> dict[str, np.ndarray]:
        return {f: getattr(self, f) for f in FIELDS}


def reduce_batch(y, first_image: int, k: int, images: list[int] | None = None) -> Partial:
    """A block's output for a batch (N×C×H×W tensor, any device) reduced on its device, then to the host.
    ``images`` are the dataset indices of the batch's rows (default: ``first_image`` onwards)."""
    import torch

    y = y.detach()
    n, c, h, w = y.shape
    flat = y.reshape(n, c, h * w)
    spatial_max, where = flat.max(dim=2)  # (N, C)
    ranked, rows = torch.sort(spatial_max, dim=0, descending=True, stable=True)
    kk = min(k, n)
    rows, ranked = rows[:kk].T, ranked[:kk].T  # (C, k')
    pos = torch.gather(where.T, 1, rows)
    index = torch.as_tensor(images if images is not None else range(first_image, first_image + n),
                            device=y.device)[rows]
    # Reductions along the contiguous positions first, then over the batch: several times faster than one
    # reduction over (0, 2), which strides across rows (benchmarks/dataset.py).
    out = [flat.sum(2, dtype=torch.float64).sum(0), (flat * flat).sum(2, dtype=torch.float64).sum(0),
           spatial_max.amax(0).float(), flat.gt(0).sum(2, dtype=torch.int32).sum(0), ranked.float(), index,
           pos // w, pos % w]
    s, sq, mx, positive, value, image, ty, tx = (t.cpu().numpy() for t in out)
    return Partial(s, sq, np.full(c, n * h * w, dtype=np.int64), mx, positive.astype(np.int64), value,
                   image.astype(np.int64), ty.astype(np.int32), tx.astype(np.int32))


def merge_all(parts: list[dict[str, Partial]], k: int) -> dict[str, Partial]:
    """Shard partials (block -> Partial each), merged in the order given."""
    merged: dict[str, Partial] = {}
    for part in parts:
        for block, p in part.items():
            merged[block] = merged[block].merge(p, k) if block in merged else p
    return merged


def channel_rows(block: str, p: Partial) -> list[dict]:
    """The rows of ``channels.csv`` for one block."""
    rows = []
    for c in range(len(p.sum)):
        n = int(p.count[c])
        mean = p.sum[c] / n if n else math.nan
        var = max(p.sumsq[c] / n - mean * mean, 0.0) * n / max(n - 1, 1) if n else math.nan
        rows.append({"block": block, "channel": c, "mean": float(mean), "std": math.sqrt(var),
                     "max": float(p.max[c]), "active_fraction": float(p.positive[c]) / n if n else math.nan,
                     "dead": bool(p.max[c] <= 0)})
    return rows


def top_rows(block: str, p: Partial, images: list[str]) -> list[dict]:
    """The rows of ``top.csv`` for one block: each channel's best images, rank 1 first."""
    rows = []
    for c in range(p.top_value.shape[0]):
        for r in range(p.top_value.shape[1]):
            rows.append({"block": block, "channel": c, "rank": r + 1, "image": images[int(p.top_image[c, r])],
                         "value": float(p.top_value[c, r]), "y": int(p.top_y[c, r]), "x": int(p.top_x[c, r])})
    return rows


__all__ = ["FIELDS", "Partial", "channel_rows", "merge_all", "reduce_batch", "top_rows"]
