"""Transformation robustness: each step shows the model random crops of each picture, scaled, rotated, shifted and
with a little noise (Lucid's jitter/scale/rotate; MACO's random crops and noise), so the picture cannot win by
one exact pixel pattern. Every picture draws from its own generator: a batch's crops are each picture's alone."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Robustness:
    crops: int = 4  # per picture per step
    scale: tuple[float, float] = (0.6, 1.0)  # of the picture's side each crop covers
    rotate: float = 10.0  # degrees, either way
    noise: float = 0.05  # in [0, 1] pixel units

    def thetas(self, generator: torch.Generator) -> Tensor:
        """crops×2×3 affine maps (output → picture coordinates, in [-1, 1]) for one picture."""
        u = torch.rand(self.crops, 4, generator=generator, dtype=torch.float64)
        s = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]
        a = math.radians(self.rotate) * (2 * u[:, 1] - 1)
        room = (1 - s).clamp_min(0)
        tx, ty = room * (2 * u[:, 2] - 1), room * (2 * u[:, 3] - 1)
        return torch.stack([torch.stack([s * torch.cos(a), -s * torch.sin(a), tx], 1),
                            torch.stack([s * torch.sin(a), s * torch.cos(a), ty], 1)], 1).float()

    def apply(self, pixels: Tensor, generators: list[torch.Generator], out: int) -> Tensor:
        """N pictures (N×3×S×S) → N·crops views at out×out, picture i's crops at rows i·crops … (i+1)·crops − 1."""
        n = len(generators)
        theta = torch.cat([self.thetas(g) for g in generators]).to(pixels.device)
        grid = F.affine_grid(theta, [n * self.crops, 3, out, out], align_corners=False)
        views = F.grid_sample(pixels.repeat_interleave(self.crops, 0), grid, mode="bilinear",
                              padding_mode="reflection", align_corners=False)
        if self.noise:
            noise = torch.cat([torch.randn(self.crops, 3, out, out, generator=g) * self.noise
                               + (torch.rand(self.crops, 3, out, out, generator=g) - 0.5) * self.noise
                               for g in generators]).to(pixels.device)
            views = views + noise
        return views


__all__ = ["Robustness"]
