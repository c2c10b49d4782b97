"""Deterministic, library-independent weights for cross-checking numerics against torchvision.

Values come from plain arithmetic (no RNG), so any torch version produces the same tensors.
"""
from __future__ import annotations

import math

import torch


def synthetic_value(shape: tuple[int, ...], index: int, key: str) -> torch.Tensor:
    n = math.prod(shape)
    wave = torch.sin(torch.arange(n, dtype=torch.float64) * 0.731 + index * 1.37)
    if key.endswith("num_batches_tracked"):
        return torch.tensor(0, dtype=torch.long)
    if key.endswith("running_var"):
        t = 0.5 + wave.abs()
    elif key.endswith("running_mean") or key.endswith("bias"):
        t = 0.1 * wave
    elif len(shape) == 1:  # BN weight
        t = 1.0 + 0.2 * wave
    else:  # conv / linear weight, scaled by fan-in to keep activations bounded
        fan_in = math.prod(shape[1:])
        t = wave * math.sqrt(2.0 / fan_in)
    return t.reshape(shape).float()


def synthetic_state_dict(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """A state dict for the given key -> shape map, in key order."""
    return {k: synthetic_value(tuple(s), i, k) for i, (k, s) in enumerate(shapes.items())}


def synthetic_input(size: int) -> torch.Tensor:
    n = 3 * size * size
    return torch.sin(torch.arange(n, dtype=torch.float64) * 0.013).reshape(1, 3, size, size).float()


def synthetic_image(width: int, height: int):
    """An RGB PIL image of smooth gradients and stripes, identical on every platform."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = (x / max(width - 1, 1)) * 255
    g = (y / max(height - 1, 1)) * 255
    b = (np.sin(x * 0.11) * np.cos(y * 0.07) * 0.5 + 0.5) * 255
    return Image.fromarray(np.stack([r, g, b], axis=-1).round().astype(np.uint8), "RGB")
