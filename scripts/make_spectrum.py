"""Writes explorer/data/spectrum.npy: MACO's magnitude from the app's three example photos (not shapes.png, which
is drawn, not photographed). tests/test_visualize.py checks the shipped file against this computation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from explorer.visualize.param import SPECTRUM_SIZE, magnitude_of

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ("cat.jpg", "coffee.jpg", "rocket.jpg")


def photos() -> list[torch.Tensor]:
    folder = ROOT / "resnet_explorer" / "assets" / "examples"
    return [torch.from_numpy(np.asarray(Image.open(folder / n).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
            for n in PHOTOS]


if __name__ == "__main__":
    np.save(ROOT / "explorer" / "data" / "spectrum.npy", magnitude_of(photos(), SPECTRUM_SIZE).numpy())
