"""MACO's magnitude from a folder of images (a dataset run's, say), computed here and kept per folder, size and
file list: a natural-image spectrum that matches the user's images, never downloaded."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..dataset.folder import DatasetError, decode, list_images
from ..limits import DEFAULT_LIMITS, Limits
from .param import magnitude_of

MAX_IMAGES = 256  # the spectrum of a few hundred images is as smooth as it gets
_KEPT: dict[tuple, torch.Tensor] = {}


def folder_magnitude(root: Path, size: int, limits: Limits = DEFAULT_LIMITS) -> torch.Tensor:
    """The mean decorrelated magnitude of the folder's first ``MAX_IMAGES`` readable images, each its centre
    square at ``size`` (``param.magnitude_of``); a folder with none is refused in one line."""
    from resnet.preprocess import Preprocess

    images = list_images(root, MAX_IMAGES)
    key = (str(root.resolve()), size, images.files)
    if key not in _KEPT:
        pre = Preprocess(resize_size=size, crop_size=size)
        crops = [c for c in (decode(root, f, pre, limits)[0] for f in images.files) if c is not None]
        if not crops:
            raise DatasetError(f"{root.name}: none of its images can be read, so it gives no spectrum")
        _KEPT[key] = magnitude_of((torch.from_numpy(c.astype(np.float32) / 255).permute(2, 0, 1) for c in crops), size)
    return _KEPT[key]


__all__ = ["MAX_IMAGES", "folder_magnitude"]
