"""ImageNet preprocessing as torchvision's ImageClassification preset defines it, without torchvision.

Resize the shorter side (bilinear, antialiased), centre-crop, scale to [0, 1], normalise. The CIFAR family takes
32×32 images as they are (resize 32, crop 32), normalised with its dataset's own statistics or, as some training
code does, ImageNet's: ``NORMALISATIONS`` names the three.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .config import CIFAR_SIZE

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # the training set's per-channel statistics
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
NORMALISATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD), "cifar10": (CIFAR10_MEAN, CIFAR10_STD),
    "cifar100": (CIFAR100_MEAN, CIFAR100_STD)}


@dataclass(frozen=True)
class Preprocess:
    """V1 weights: resize 256, crop 224. V2 weights: resize 232, crop 224."""

    resize_size: int = 256
    crop_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def crop(self, image: Image.Image) -> Image.Image:
        """The exact RGB crop the network sees (before normalisation)."""
        image = image.convert("RGB")
        w, h = image.size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = self.resize_size, int(self.resize_size * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        if (new_w, new_h) != (w, h):
            image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)  # PIL always antialiases
        c = self.crop_size
        if new_w < c or new_h < c:  # torchvision pads; only reachable when resize < crop
            padded = Image.new("RGB", (max(new_w, c), max(new_h, c)))
            padded.paste(image, ((max(new_w, c) - new_w) // 2, (max(new_h, c) - new_h) // 2))
            image, (new_w, new_h) = padded, padded.size
        top = int(round((new_h - c) / 2.0))
        left = int(round((new_w - c) / 2.0))
        return image.crop((left, top, left + c, top + c))

    def to_tensor(self, crop: Image.Image) -> torch.Tensor:
        """Normalised 1x3xHxW float tensor."""
        import torch  # here, so presets (which carry their preprocessing) import without torch

        arr = torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)
        mean = torch.tensor(self.mean).view(3, 1, 1)
        std = torch.tensor(self.std).view(3, 1, 1)
        return ((arr - mean) / std).unsqueeze(0)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.to_tensor(self.crop(image))

    @property
    def normalisation(self) -> str:
        """The name of its mean and std (``imagenet``, ``cifar10``, ``cifar100``), or ``custom``."""
        return next((k for k, v in NORMALISATIONS.items() if v == (self.mean, self.std)), "custom")

    def normalised(self, name: str) -> Preprocess:
        """The same sizes with the named mean and std; ValueError naming the choices otherwise."""
        if name not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, got {name!r}")
        mean, std = NORMALISATIONS[name]
        return Preprocess(self.resize_size, self.crop_size, mean, std)


def cifar_preprocess(num_classes: int = 10) -> Preprocess:
    """32×32 as it is, normalised with CIFAR-100's statistics for 100 classes, CIFAR-10's otherwise."""
    return Preprocess(CIFAR_SIZE, CIFAR_SIZE).normalised("cifar100" if num_classes == 100 else "cifar10")
