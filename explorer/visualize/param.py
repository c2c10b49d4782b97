"""How a picture is parameterised while it is optimised: Fourier coefficients with colour decorrelation (Olah et al.
2017, as Lucid), or MACO's phase with the magnitude fixed to a natural-image spectrum (Fel et al. 2023).

Both make pixels in [0, 1] as their reference code does: coefficients → inverse real FFT → (MACO, as Horama:
standardise) → re-correlate colours (the square root of ImageNet's colour covariance, Lucid's matrix) → sigmoid.
Each image of a batch is standardised on its own, so a batch of channels is the same channels optimised one at a
time.
The magnitude is computed here from images (``magnitude_of``): the example photos' spectrum ships with the
package (``explorer/data/spectrum.npy``), a dataset folder's is computed when asked; nothing is downloaded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

# Lucid's square root of ImageNet's RGB covariance (its colour decorrelation), as Horama ships it
COLOR_SQRT = ((0.56282854, 0.58447580, 0.58447580),
              (0.19482528, 0.00000000, -0.19482528),
              (0.04329450, -0.10823626, 0.06494176))
SPECTRUM_SIZE = 256  # the shipped magnitude's size; resized to the picture's as Horama does


def _standardise(t: Tensor) -> Tensor:
    """Each image (dim 0) to mean 0, std 1."""
    flat = t.flatten(1)
    mean, std = flat.mean(1), flat.std(1)
    return (t - mean.view(-1, *[1] * (t.dim() - 1))) / (std.view(-1, *[1] * (t.dim() - 1)) + 1e-4)


def to_pixels(decorrelated: Tensor) -> Tensor:
    """N×3×H×W standardised, decorrelated signal → RGB pixels in [0, 1]."""
    m = torch.tensor(COLOR_SQRT, dtype=decorrelated.dtype, device=decorrelated.device)
    return torch.sigmoid(torch.einsum("nchw,cd->ndhw", decorrelated, m))


def decorrelate(images: Tensor) -> Tensor:
    """The inverse of the colour step: N×3×H×W RGB (any range) → decorrelated channels, each image centred."""
    m = torch.tensor(COLOR_SQRT, dtype=torch.float64)
    centred = images.double() - images.double().mean((2, 3), keepdim=True)
    return torch.einsum("nchw,cd->ndhw", centred, torch.linalg.inv(m))


def magnitude_of(images: Iterable[Tensor], size: int) -> Tensor:
    """MACO's magnitude: the mean |FFT| (real FFT over H×W) of the images' decorrelated colour channels, each image
    (3×H×W, pixels in [0, 1]) cut to its centre square and resized to size×size first; 3×size×(size//2 + 1),
    float32."""
    total, n = None, 0
    for image in images:
        h, w = image.shape[-2:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = F.interpolate(image[None, :, top:top + side, left:left + side].double(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
        mag = torch.fft.rfft2(decorrelate(x)).abs()[0]
        total, n = (mag if total is None else total + mag), n + 1
    if total is None:
        raise ValueError("a MACO spectrum needs at least one image")
    return (total / n).float()


def shipped_magnitude(size: int) -> Tensor:
    """The example photos' magnitude (``explorer/data/spectrum.npy``), resized to a size×size picture's."""
    with resources.files("explorer.data").joinpath("spectrum.npy").open("rb") as f:
        mag = torch.from_numpy(np.load(f, allow_pickle=False)).float()
    if mag.shape[-2:] == (size, size // 2 + 1):
        return mag
    return F.interpolate(mag[None], size=(size, size // 2 + 1), mode="bilinear", align_corners=False,
                         antialias=True)[0]


def fourier_scale(size: int, decay: float) -> Tensor:
    """Lucid's 1/f^decay weights of the spectrum (the lowest frequency capped at 1/size), times √(H·W)."""
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    freq = torch.sqrt(fx * fx + fy * fy).clamp_min(1.0 / size)
    return freq.pow(-decay) * math.sqrt(size * size)


@dataclass
class Fourier:
    """Each image's complex spectrum (as a real pair), weighted by ``fourier_scale``, as Lucid has it: started
    small (σ 0.01) and never standardised, so a picture's contrast grows as far as its channel wants."""

    size: int
    decay: float = 1.0

    def init(self, generator: torch.Generator) -> Tensor:
        return 0.01 * torch.randn(3, self.size, self.size // 2 + 1, 2, generator=generator)

    def pixels(self, params: Tensor) -> Tensor:
        spectrum = torch.view_as_complex(params.contiguous())
        scale = fourier_scale(self.size, self.decay).to(params.device)
        return to_pixels(torch.fft.irfft2(spectrum * scale, s=(self.size, self.size)) / 4.0)


@dataclass
class Maco:
    """Each image's phase; the magnitude is fixed (3×size×(size//2 + 1), from ``magnitude_of``)."""

    size: int
    magnitude: Tensor

    def init(self, generator: torch.Generator) -> Tensor:
        return torch.randn(3, self.size, self.size // 2 + 1, generator=generator)

    def pixels(self, params: Tensor) -> Tensor:
        phase = _standardise(params)
        mag = self.magnitude.to(params.device)
        spectrum = torch.complex(torch.cos(phase) * mag, torch.sin(phase) * mag)
        return to_pixels(_standardise(torch.fft.irfft2(spectrum, s=(self.size, self.size))))


__all__ = ["COLOR_SQRT", "Fourier", "Maco", "decorrelate", "fourier_scale", "magnitude_of", "shipped_magnitude",
           "to_pixels"]
