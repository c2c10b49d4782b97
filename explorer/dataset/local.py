"""The local engine: a DataLoader whose workers decode a shard each, and the model on the CPU or a GPU, each
block's output reduced on the device the moment the block makes it (``stats.reduce_batch``)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable

import torch
from torch.utils.data import DataLoader, Dataset

from resnet import Preprocess

from ..features.capture import input_like
from ..lesion.measure import lesion_batch
from ..lesion.partial import LesionPartial
from ..tracing.device import resolve_device
from ..tracing.hooks import running_on
from ..tracing.watch import watched_run
from .folder import ImageSet, decode, to_batch
from .checkpoint import ShardResult
from .run import Shard
from .stats import Partial, reduce_batch

if TYPE_CHECKING:
    from torch import nn

    from ..lesion.study import Design
    from .run import DatasetJob


class ShardImages(Dataset):
    """One item per shard: its crops (uint8), which images they are, and the files skipped with why."""

    def __init__(self, images: ImageSet, pre: Preprocess, todo: list[Shard], limits) -> None:  # noqa: ANN001
        self.images, self.pre, self.todo, self.limits = images, pre, todo, limits

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, i: int) -> tuple[int, list, list[int], list[tuple[int, str]]]:
        shard = self.todo[i]
        crops, used, skipped = [], [], []
        for index in shard.images:
            crop, reason = decode(self.images.root, self.images.files[index], self.pre, self.limits)
            if crop is None:
                skipped.append((index, reason))
            else:
                crops.append(crop)
                used.append(index)
        return shard.index, crops, used, skipped


def reduce_shard(model: nn.Module, x: torch.Tensor, used: list[int], blocks: list[str], k: int,
                 plan: Design | None = None, threads: int | None = None) -> tuple[dict[str, Partial], LesionPartial | None]:
    """One forward of a shard's batch, each block's output reduced as it is made (in ``threads`` threads, by
    default torch's); for a lesion study that forward is taped and the lesions replayed from it
    (``lesion_batch``)."""
    parts: dict[str, Partial] = {}
    threads = threads or torch.get_num_threads()

    def watch(plan) -> dict:  # noqa: ANN001
        return {b.output: [lambda t, n=b.name: parts.__setitem__(n, reduce_batch(t, k, used, threads))]
                for b in plan.blocks}

    if plan is None:
        watched_run(model, x, watch, replan=parts.clear)
        return parts, None
    targets = torch.tensor([plan.targets[i] for i in used], dtype=torch.int64)
    return parts, lesion_batch(model, x, targets, plan.draw_blocks, watch, parts.clear)


def reduction_threads(workers: int) -> int:
    """Threads for the reductions: the cores the decoding workers leave, at most torch's. On cores the workers
    share, more threads contend more than they help (two cores, two workers: one thread, ~10 % faster)."""
    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - workers))


def run_local(job: DatasetJob, images: ImageSet, pre: Preprocess, model: nn.Module, blocks: list[str],
              todo: list[Shard], finished: Callable[[int, ShardResult], None], plan: Design | None = None) -> None:
    device = resolve_device(job.device)
    before = torch.get_num_threads()
    if job.threads:
        torch.set_num_threads(job.threads)
    threads = reduction_threads(job.workers)
    loader = DataLoader(ShardImages(images, pre, todo, job.limits), batch_size=None, num_workers=job.workers,
                        collate_fn=lambda item: item, persistent_workers=False)
    try:
        with running_on(model, device):
            for index, crops, used, skipped in loader:
                x = input_like(model, to_batch(crops, pre).to(device)) if crops else None
                parts, lesion = reduce_shard(model, x, used, blocks, job.top_k, plan, threads) if crops else ({}, None)
                finished(index, ShardResult.of(blocks, parts, len(used), skipped, lesion))
    finally:
        torch.set_num_threads(before)


__all__ = ["ShardImages", "reduce_shard", "reduction_threads", "run_local"]
