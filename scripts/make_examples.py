"""Regenerate resnet_explorer/assets/examples/shapes.png: a synthetic test card (stripes, rings, a checkerboard, colour ramps)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def shapes(size: tuple[int, int] = (480, 360)) -> Image.Image:
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([x / w * 255, y / h * 255, np.full_like(x, 120.0)], axis=-1)
    img = Image.fromarray(base.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for i in range(12):  # vertical stripes of increasing frequency
        d.rectangle([20 + i * 8, 20, 23 + i * 8, 140], fill=(255, 255, 255))
    for r in range(70, 0, -14):  # concentric rings
        d.ellipse([300 - r, 100 - r, 300 + r, 100 + r], outline=(20, 20, 20), width=6)
    for i in range(8):  # checkerboard
        for j in range(8):
            if (i + j) % 2 == 0:
                d.rectangle([40 + i * 20, 190 + j * 20, 59 + i * 20, 209 + j * 20], fill=(0, 0, 0))
    d.polygon([(300, 200), (430, 330), (250, 330)], fill=(220, 40, 40))
    return img


if __name__ == "__main__":
    shapes().save(Path(__file__).resolve().parent.parent / "resnet_explorer" / "assets" / "examples" / "shapes.png")
