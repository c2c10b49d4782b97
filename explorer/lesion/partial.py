"""A lesion study's partial numbers over some images (numpy only: the dataset run reads and merges them without
torch)."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

LESION_FIELDS = ("images", "labelled", "full_correct", "block_correct", "block_agree", "block_kl", "block_ratio",
                 "draw_correct", "draw_agree", "draw_kl")


@dataclass
class LesionPartial:
    images: np.ndarray  # () int64
    labelled: np.ndarray  # () int64: images whose label is one of the model's classes
    full_correct: np.ndarray  # () int64
    block_correct: np.ndarray  # (N,) int64
    block_agree: np.ndarray  # (N,) int64
    block_kl: np.ndarray  # (N,) float64: summed over images
    block_ratio: np.ndarray  # (N,) float64: ‖F(x)‖ / ‖shortcut(x)‖ summed over images
    draw_correct: np.ndarray  # (D,) int64
    draw_agree: np.ndarray
    draw_kl: np.ndarray  # (D,) float64

    def merge(self, other: LesionPartial) -> LesionPartial:
        return LesionPartial(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


__all__ = ["LESION_FIELDS", "LesionPartial"]
