"""What a dataset run is asked to do (``DatasetJob``), checked before anything runs: the first link of the chain
job ← shard work (``shards``) ← engines (``local``, ``ray_engine``) ← the run (``run``), each importing only
those before it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from resnet import Preprocess

from ..lesion.study import Study
from ..limits import DEFAULT_LIMITS, Limits
from ..models import Model
from .folder import DatasetError

ENGINES = ("local", "ray")
Progress = Callable[[int, int], None]  # (images done, images in all)


@dataclass(frozen=True)
class DatasetJob:
    """What to run: the model and its weights, the folder, where the files go, and how."""

    model: Model
    folder: Path
    out: Path
    weights: str = "random"  # "random", "hub" or "file" (as the feature maps take them)
    checkpoint: str | None = None  # the weights' file (not the run's tally, which ``tally`` keeps)
    preprocess: Preprocess | None = None  # None: the weights' own (ImageNet's resize 256, crop 224 by default)
    top_k: int = 16
    batch_size: int = 32
    workers: int = 2
    device: str = "cpu"
    engine: str = "local"
    ray_address: str | None = None
    limit: int | None = None
    threads: int | None = None  # torch threads per forward (the engines agree on the numbers at the same count)
    limits: Limits = field(default=DEFAULT_LIMITS)
    lesion: Study | None = None  # also a lesion study of every block (and k-removal draws)
    class_names: tuple[str, ...] | None = None  # the model's classes in output order (a labels file)
    lowered_from: int | None = None  # the batch asked for, when memory made the run take a smaller one


def check_job(job: DatasetJob) -> None:
    """The job's numbers, before anything runs or any folder is made."""
    for name, value, low in (("--top-k", job.top_k, 1), ("--batch-size", job.batch_size, 1), ("--workers", job.workers, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise DatasetError(f"{name} must be a whole number of at least {low}, got {value!r}")
    if job.top_k > 1000:
        raise DatasetError(f"--top-k must be at most 1000, got {job.top_k}")
    if job.engine not in ENGINES:
        raise DatasetError(f"--engine must be one of {', '.join(ENGINES)}, got {job.engine!r}")
    if job.limit is not None and job.limit < 1:
        raise DatasetError(f"--limit must be at least 1, got {job.limit}")
    if job.lesion is not None and (problem := job.lesion.check()):
        raise DatasetError(problem)
    if job.out.exists() and not job.out.is_dir():
        raise DatasetError(f"--out {job.out} is a file; name a folder")


__all__ = ["DatasetJob", "ENGINES", "Progress", "check_job"]
