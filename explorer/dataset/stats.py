"""Per-(block, channel) statistics of block outputs over a dataset, as partials that merge exactly.

A batch's outputs are reduced where they are (on the device), the moment each block makes them, into a
``Partial``: sums, sums of squared deviations from the mean (``m2``), position counts, maxima, counts of
positions above 0, and each channel's top-k images by its spatial maximum with where that maximum is. Partials
merge by addition, Chan's update of ``m2`` (in float64), maximum and a stable top-k merge, so a run over any
number of images keeps O(blocks × channels × k), and partials made anywhere (a DataLoader loop, a Ray actor, a
resumed run) merged in the same order give the same numbers.

Each (image, channel) pair is reduced first (on the CPU in one compiled pass, ``kernels``; on a GPU by torch
there, ``device_pairs``), then the batch's images are combined in float64 on the host, and partials merged, by
compiled loops too (numpy's version of the two, a strided argsort over images and a sort of two top lists, cost
as much as the pairs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import Pairs, cpu_pairs, load

FIELDS = ("sum", "m2", "count", "max", "positive", "top_value", "top_image", "top_y", "top_x")
CHANNEL_COLUMNS = ("block", "channel", "mean", "std", "max", "active_fraction", "dead")
TOP_COLUMNS = ("block", "channel", "rank", "image", "value", "y", "x")


@dataclass
class Partial:
    """Statistics over some images, per channel: one block's, or every block's channels one block after another
    (a shard's partials are one ``Partial``: one merge per shard, a dozen arrays in its file)."""

    sum: np.ndarray  # (C,) float64
    m2: np.ndarray  # (C,) float64: the sum of squared deviations from this partial's mean
    count: np.ndarray  # (C,) int64: positions seen per channel
    max: np.ndarray  # (C,) float32
    positive: np.ndarray  # (C,) int64: positions above 0
    top_value: np.ndarray  # (C, k') float32, best first
    top_image: np.ndarray  # (C, k') int64: index in the dataset's image list
    top_y: np.ndarray  # (C, k') int32: where the channel's maximum is, at the block's resolution
    top_x: np.ndarray

    def merge(self, other: Partial, k: int) -> Partial:
        """This partial, then ``other`` (images after these: ties go to the earlier image)."""
        c, kk = len(self.sum), min(k, self.top_value.shape[1] + other.top_value.shape[1])
        top = (np.empty((c, kk), np.float32), np.empty((c, kk), np.int64), np.empty((c, kk), np.int32),
               np.empty((c, kk), np.int32))
        load().merge_top(self.top_value, self.top_image, self.top_y, self.top_x, other.top_value, other.top_image,
                  other.top_y, other.top_x, *top)
        na, nb = self.count.astype(np.float64), other.count.astype(np.float64)
        delta = other.sum / nb - self.sum / na
        m2 = self.m2 + other.m2 + delta * delta * (na * nb / (na + nb))
        return Partial(self.sum + other.sum, m2, self.count + other.count,
                       np.maximum(self.max, other.max), self.positive + other.positive, *top)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f: getattr(self, f) for f in FIELDS}

    @staticmethod
    def join(parts: list[Partial]) -> Partial:
        """Partials of the same images, their channels one after another."""
        return Partial(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))

    def channels(self, lo: int, hi: int) -> Partial:
        return Partial(*(getattr(self, f)[lo:hi] for f in FIELDS))


def reduce_batch(y, k: int, images: list[int], threads: int = 1) -> Partial:  # noqa: ANN001 - a torch tensor
    """A block's output for a batch (N×C×H×W tensor, any device) reduced where it is, then to the host:
    on the CPU by one compiled pass in ``threads`` threads (``kernels.cpu_pairs``), on a GPU by torch's
    reductions there. ``images`` are the dataset indices of the batch's rows."""
    y = y.detach()
    n, c, h, w = y.shape
    compiled = y.device.type == "cpu" and load().positions_last is not None
    pairs = cpu_pairs(y, threads) if compiled else device_pairs(y)
    return combine(pairs, k, images, h, w)


def combine(pairs: Pairs, k: int, images: list[int], h: int, w: int) -> Partial:
    """A batch's pairs (N×C, each over h×w positions) as one partial: per channel, in float64, and its best
    min(k, N) images by their maximum, ties to the earlier image, NaN last (as a stable argsort of −max)."""
    n, c = pairs.sum.shape
    kk = min(k, n)
    out = Partial(np.empty(c), np.empty(c), np.full(c, n * h * w, dtype=np.int64), np.empty(c, np.float32),
                  np.empty(c, np.int64), np.empty((c, kk), np.float32), np.empty((c, kk), np.int64),
                  np.empty((c, kk), np.int32), np.empty((c, kk), np.int32))
    load().combine(pairs.sum, pairs.m2, pairs.max, pairs.argmax, pairs.positive, np.asarray(images, dtype=np.int64),
                   h * w, w, out.sum, out.m2, out.max, out.positive, out.top_value, out.top_image, out.top_y, out.top_x)
    return out


def device_pairs(y) -> Pairs:  # noqa: ANN001 - a torch tensor on a GPU (or any device)
    """``kernels.Pairs`` by torch reductions on ``y``'s device, each along the contiguous positions, as the CPU's
    kernel takes them: the values less each pair's first one, accumulated in float64."""
    import torch

    n, c, h, w = y.shape
    p = h * w
    flat = y.reshape(n, c, p)
    acc = torch.promote_types(flat.dtype, torch.float32)
    spatial_max, where = flat.max(dim=2)
    shift = flat[..., 0].double()
    d = flat.to(acc) - flat[..., :1].to(acc)
    total = d.sum(2, dtype=torch.float64)
    m2 = (torch.linalg.vector_norm(d, dim=2, dtype=torch.float64).square() - total * total / p).clamp_min(0)
    positive = flat.gt(0).sum(2, dtype=torch.int64)
    s, m2, mx, arg, positive = (t.cpu().numpy() for t in (total + shift * p, m2, spatial_max.float(), where, positive))
    return Pairs(s, m2, mx, arg, positive)


def channel_columns(block: str, p: Partial) -> dict[str, np.ndarray | list]:
    """The columns of ``channels.csv`` for one block."""
    n = p.count.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(np.where(n > 1, p.m2 / np.maximum(n - 1, 1), 0.0))
        return {"block": [block] * len(n), "channel": np.arange(len(n)), "mean": p.sum / n, "std": std,
                "max": p.max.astype(np.float64), "active_fraction": p.positive / n, "dead": p.max <= 0}


def top_columns(block: str, p: Partial, images: tuple[str, ...] | list[str]) -> dict[str, np.ndarray | list]:
    """The columns of ``top.csv`` for one block: each channel's best images, rank 1 first."""
    c, k = p.top_value.shape
    return {"block": [block] * (c * k), "channel": np.repeat(np.arange(c), k), "rank": np.tile(np.arange(1, k + 1), c),
            "image": [images[i] for i in p.top_image.ravel().tolist()], "value": p.top_value.ravel().astype(np.float64),
            "y": p.top_y.ravel(), "x": p.top_x.ravel()}


__all__ = ["CHANNEL_COLUMNS", "FIELDS", "Partial", "TOP_COLUMNS", "channel_columns", "combine", "reduce_batch",
           "top_columns"]
