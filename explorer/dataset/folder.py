"""An image folder as a dataset: every image under it (recursively, in sorted order), its class when the folder
has one subfolder per class (torchvision's ImageFolder convention: classes sorted, as ImageNet's synsets are),
and each image decoded and preprocessed for the model, or skipped with the reason."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet import Preprocess
from resnet.preprocess import IMAGENET_MEAN, IMAGENET_STD

from ..features.images import ImageError, load_image
from ..limits import DEFAULT_LIMITS, MIN_INPUT_SIZE, Limits

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class ImageSet:
    """The images of a folder (paths relative to it, sorted), and their classes."""

    root: Path
    files: tuple[str, ...]
    classes: tuple[str, ...]  # sorted subfolder names, when every image is in one; else empty
    labels: tuple[int, ...]  # each file's class index (-1 without classes)


class DatasetError(ValueError):
    """A folder that cannot be used; the message says why."""


def list_images(root: str | Path, limit: int | None = None) -> ImageSet:
    """Every file under ``root`` with an image's suffix (others, and hidden files, are not images), sorted by
    their path relative to ``root``; ``limit`` keeps the first ones. Files that turn out not to be readable
    images are skipped when they are decoded, with the reason."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root.name or root}: no such folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath, name).relative_to(root).as_posix())
    files = tuple(sorted(found))[:limit] if limit else tuple(sorted(found))
    if not files:
        raise DatasetError(f"{root.name}: no images in it (JPEG, PNG, WebP, BMP, GIF, TIFF)")
    tops = {f.split("/", 1)[0] for f in files}
    classed = all("/" in f for f in files)
    classes = tuple(sorted(tops)) if classed else ()
    labels = tuple(classes.index(f.split("/", 1)[0]) for f in files) if classed else (-1,) * len(files)
    return ImageSet(root, files, classes, labels)


def decode(root: Path, file: str, pre: Preprocess, limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray | None, str]:
    """The crop the network sees (H×W×3 uint8), or None and why the file was skipped."""
    try:
        image = load_image(root / file, need_short_side=pre.resize_size, limits=limits)
        return np.asarray(pre.crop(image), dtype=np.uint8), ""
    except ImageError as exc:
        return None, str(exc)
    except OSError as exc:  # PIL decodes lazily: a damaged file can fail only at the crop
        return None, exc.strerror or "the image is damaged or truncated and cannot be decoded"


def preprocessing(resize: int | None = None, crop: int | None = None, mean: tuple[float, ...] | None = None,
                  std: tuple[float, ...] | None = None, limits: Limits = DEFAULT_LIMITS,
                  base: Preprocess | None = None) -> Preprocess | None:
    """The preprocessing a run is asked for (None: the weights' own). What is not given follows ``base`` (the
    model's own: a CIFAR model's 32 px as it is, its dataset's statistics) or else ImageNet's recipe: a crop alone
    is resized as torchvision's is (shorter side 256/224 of it); a resize alone crops 224 (or the resize)."""
    own_mean, own_std = (base.mean, base.std) if base else (IMAGENET_MEAN, IMAGENET_STD)
    mean, std = tuple(float(v) for v in (mean or own_mean)), tuple(float(v) for v in (std or own_std))
    if not (resize or crop) and mean == own_mean and std == own_std:
        return None
    if base is not None:
        crop = int(crop or (min(base.crop_size, resize) if resize else base.crop_size))
        resize = int(resize or max(crop, base.resize_size * crop // base.crop_size))
    crop = int(crop or min(224, resize or 224))
    resize = int(resize or max(crop, 256 * crop // 224))
    if not MIN_INPUT_SIZE <= crop <= limits.max_input_size:
        raise DatasetError(f"the crop must be {MIN_INPUT_SIZE} to {limits.max_input_size} px, got {crop}")
    if not crop // 2 <= resize <= 4 * limits.max_input_size:
        raise DatasetError(f"the resize must be at least half the crop ({crop // 2}) and at most "
                           f"{4 * limits.max_input_size} px, got {resize}")
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise DatasetError(f"the mean and std are three numbers each, the std above 0; got {mean}, {std}")
    return Preprocess(resize, crop, mean, std)


def to_batch(crops: list[np.ndarray], pre: Preprocess):  # noqa: ANN201 - a torch tensor, imported late
    """uint8 crops (N×H×W×3) as the normalised N×3×H×W float batch the model takes."""
    import torch

    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    return (x - mean) / std


__all__ = ["DatasetError", "IMAGE_SUFFIXES", "ImageSet", "decode", "list_images", "preprocessing", "to_batch"]
