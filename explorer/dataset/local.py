"""The local engine: a DataLoader whose workers decode a shard each (``shards.decode_shard``), and the model on
the CPU or a GPU in this process (``shards.run_shard``), each block's output reduced on the device the moment
the block makes it."""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Callable

import torch
from torch.utils.data import DataLoader, Dataset

from resnet import Preprocess

from ..tracing.device import resolve_device
from ..tracing.hooks import running_on
from .folder import ImageSet
from .shards import Shard, decode_shard, run_shard
from .tally import ShardResult

if TYPE_CHECKING:
    from torch import nn

    from ..lesion.study import Design
    from .job import DatasetJob


class ShardImages(Dataset):
    """One item per shard: its crops (uint8), which images they are, and the files skipped with why."""

    def __init__(self, images: ImageSet, pre: Preprocess, todo: list[Shard], limits) -> None:  # noqa: ANN001
        self.images, self.pre, self.todo, self.limits = images, pre, todo, limits

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, i: int) -> tuple[int, object, list[int], list[tuple[int, str]]]:
        shard = self.todo[i]
        files = [self.images.files[j] for j in shard.images]
        return (shard.index, *decode_shard(self.images.root, files, shard.images, self.pre, self.limits))


def reduction_threads(workers: int) -> int:
    """Threads for the reductions: the cores the decoding workers leave, at most torch's. On cores the workers
    share, more threads contend more than they help (two cores, two workers: one thread, ~10 % faster)."""
    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - workers))


def planning_device(job: DatasetJob) -> torch.device:
    """Where the run's model is built and planned: the job's device; on the CPU the reduction kernels start
    compiling meanwhile (about a second, once per machine)."""
    device = resolve_device(job.device)
    if device.type == "cpu":
        from .kernels import load

        threading.Thread(target=load, daemon=True, name="explorer-kernels").start()
    return device


def run(job: DatasetJob, images: ImageSet, pre: Preprocess, model: nn.Module, blocks: list[str],
        todo: list[Shard], finished: Callable[[int, ShardResult], None], design: Design | None = None) -> None:
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
                finished(index, run_shard(model, device, crops, used, skipped, pre, blocks, job.top_k, design,
                                          threads))
    finally:
        torch.set_num_threads(before)


__all__ = ["ShardImages", "planning_device", "reduction_threads", "run"]
