"""What every channel responds to, across a dataset: one pass over an image folder with every block's output
reduced into mergeable partials (``stats``, ``kernels``). A one-way chain: the job (``job``) ← a shard's work,
the same on every engine (``shards``) ← the engines (a DataLoader: ``local``; a Ray cluster: ``ray_engine``) ←
the run, resumable from a merged tally (``tally``) and written as ``summary.json``, ``channels.csv`` and
``top.csv`` (``run``); the folder, its classes and the decoding of its images (``folder``)."""
from __future__ import annotations

from .folder import DatasetError, ImageSet, list_images
from .job import ENGINES, DatasetJob
from .run import run_dataset

__all__ = ["DatasetError", "DatasetJob", "ENGINES", "ImageSet", "list_images", "run_dataset"]
