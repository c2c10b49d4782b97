"""What every channel responds to, across a dataset: one pass over an image folder with every block's output
reduced into mergeable partials (``stats``, ``kernels``), run locally (a DataLoader: ``local``) or on a Ray
cluster (``ray_engine``), resumable from a merged tally (``checkpoint``), written as ``summary.json``, ``channels.csv`` and ``top.csv`` (``run``); the
folder, its classes and the decoding of its images (``folder``)."""
from __future__ import annotations

from .folder import DatasetError, ImageSet, list_images
from .run import ENGINES, DatasetJob, run_dataset

__all__ = ["DatasetError", "DatasetJob", "ENGINES", "ImageSet", "list_images", "run_dataset"]
