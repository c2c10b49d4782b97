"""What the class activation maps look like: over the crop the network saw, at the block's own resolution,
and the last block of every stage side by side (localisation sharpening with depth). Pure rendering of a
``CamRun``: no forward or backward pass here."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from ..theme import TEMPLATE
from .cam import METHODS, CamRun
from .views import colorize

RANDOM_CAM_NOTICE = ("Random weights: the class scores, and so these maps, mean nothing. Load trained weights "
                     "(the download button above, or a checkpoint) to see where the network finds a class.")


def cam_overlay(run: CamRun, crop: Image.Image, block: str, method: str = "gradcam", opacity: float = 0.5) -> np.ndarray:
    """The map upsampled (bilinear) onto the exact crop, normalised to its own maximum."""
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be from 0 to 1, got {opacity!r}")
    cam = run.cam(block, method)
    heat = Image.fromarray(colorize(cam, 0.0, float(cam.max()) or 1.0)).resize(crop.size, Image.Resampling.BILINEAR)
    base = np.asarray(crop.convert("RGB"), dtype=np.float32)
    return (base * (1 - opacity) + np.asarray(heat, dtype=np.float32) * opacity).round().astype(np.uint8)


def cam_figure(run: CamRun, block: str, method: str, class_name: str) -> go.Figure:
    """The raw map at the block's resolution, with its colour scale (the method's units, not normalised)."""
    cam = run.cam(block, method)
    fig = go.Figure(go.Heatmap(z=cam[::-1], colorscale="Viridis", colorbar=dict(title="CAM"),
                               hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>"))
    h, w = cam.shape
    fig.update_layout(template=TEMPLATE, height=360, margin=dict(l=40, r=20, t=50, b=40),
                      title=dict(text=f"{block} · {method} · {class_name} ({h}×{w})", x=0.01),
                      xaxis=dict(constrain="domain"), yaxis=dict(scaleanchor="x", autorange=True))
    return fig


def stage_ends(run: CamRun) -> list[str]:
    """The last block of each stage: where the strip looks."""
    last: dict[int, str] = {}
    for b in run.blocks:
        last[run.stage_of.get(b, 0)] = b
    return list(last.values())


def cam_strip(run: CamRun, crop: Image.Image, method: str = "gradcam", opacity: float = 0.5, tile: int = 160) -> np.ndarray:
    """The overlay at the last block of every stage, left to right, each labelled with its block."""
    tiles = []
    for block in stage_ends(run):
        img = Image.fromarray(cam_overlay(run, crop, block, method, opacity)).resize((tile, tile))
        ImageDraw.Draw(img).text((4, 2), block, fill=(255, 255, 255))
        tiles.append(np.asarray(img))
    gap = np.full((tile, 4, 3), 255, dtype=np.uint8)
    return np.concatenate([t for pair in zip(tiles, [gap] * len(tiles)) for t in pair][:-1], axis=1)


def method_help(method: str) -> str:
    return METHODS[method]


__all__ = ["RANDOM_CAM_NOTICE", "cam_figure", "cam_overlay", "cam_strip", "method_help", "stage_ends"]
