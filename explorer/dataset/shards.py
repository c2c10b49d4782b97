"""A shard's work, the same whichever engine runs it: its files decoded to crops of one size (``decode_shard``),
then one forward of them with every block's output reduced the moment the block makes it, and for a lesion study
that forward taped and each lesion replayed from it (``run_shard``). The local loop calls these in a DataLoader's
workers and its own thread; the Ray engine in decode tasks and an actor."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from resnet import Preprocess

from ..limits import Limits
from .folder import ImageSet, decode
from .tally import ShardResult

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..lesion.study import Design
    from .stats import Partial


@dataclass
class Shard:
    index: int
    images: list[int]  # indices in the file list


def shards(images: ImageSet, batch: int) -> list[Shard]:
    """The run's shards: the sorted file list cut into batches, fixed by it and the batch size."""
    return [Shard(i // batch, list(range(i, min(i + batch, len(images.files))))) for i in range(0, len(images.files),
                                                                                              batch)]


def decode_shard(root: Path, files: list[str], indices: list[int], pre: Preprocess, limits: Limits
                 ) -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """A shard's files as uint8 crops (N×H×W×3, one size), the indices of those used, and those skipped with why."""
    crops, used, skipped = [], [], []
    for index, file in zip(indices, files):
        crop, reason = decode(root, file, pre, limits)
        if crop is None:
            skipped.append((int(index), reason))
        else:
            crops.append(crop)
            used.append(int(index))
    return (np.stack(crops) if crops else np.zeros((0, 1, 1, 3), np.uint8)), used, skipped


def reduce_shard(model: nn.Module, x: torch.Tensor, used: list[int], blocks: list[str], k: int,
                 design: Design | None = None, threads: int | None = None
                 ) -> tuple[dict[str, Partial], object | None]:
    """One forward of a shard's batch, each block's output reduced as it is made (in ``threads`` threads, by
    default torch's); for a lesion study that forward is taped and the lesions replayed from it
    (``lesion_batch``)."""
    import torch

    from ..lesion.measure import lesion_batch
    from ..tracing.watch import watched_run
    from .stats import reduce_batch

    parts: dict[str, Partial] = {}
    threads = threads or torch.get_num_threads()

    def watch(plan) -> dict:  # noqa: ANN001 - a tracing.watch.Plan
        return {b.output: [lambda t, n=b.name: parts.__setitem__(n, reduce_batch(t, k, used, threads))]
                for b in plan.blocks}

    if design is None:
        watched_run(model, x, watch, replan=parts.clear)
        return parts, None
    targets = torch.tensor([design.targets[i] for i in used], dtype=torch.int64)
    return parts, lesion_batch(model, x, targets, design.draw_blocks, watch, parts.clear)


def run_shard(model: nn.Module, device: torch.device, crops: np.ndarray, used: list[int],
              skipped: list[tuple[int, str]], pre: Preprocess, blocks: list[str], k: int,
              design: Design | None = None, threads: int | None = None) -> ShardResult:
    """A decoded shard through the model on ``device`` (where the model is), as the partials it gives."""
    from ..features.capture import input_like
    from .folder import to_batch

    parts, lesion = {}, None
    if len(used):
        x = input_like(model, to_batch(crops, pre).to(device))
        parts, lesion = reduce_shard(model, x, used, blocks, k, design, threads)
    return ShardResult.of(blocks, parts, len(used), skipped, lesion)


__all__ = ["Shard", "decode_shard", "reduce_shard", "run_shard", "shards"]
