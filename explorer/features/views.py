"""Views of a Capture: top-k channel grids, one channel zoomed, the activation overlay, across-network
plots and top-5 predictions. Pure functions of the capture: switching block needs no forward pass."""
from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont
from plotly.colors import hex_to_rgb, sequential

from ..palette import PROJECTION, SELECTED
from ..theme import TEMPLATE
from ..tracing.records import format_shape
from .capture import BlockStats, Capture

CLASSES_FILE = Path(__file__).resolve().parents[1] / "data" / "imagenet_classes.txt"  # package data
GRID_TILE = 96  # px per channel tile
GRID_GAP = 4
LABEL_BOX = (0, 0, 0)  # behind each tile's channel index
PNG_LEVEL = 1  # zlib level for the views' PNGs: faster to write than the default 6 (benchmarks/choices.py)


@lru_cache(maxsize=1)
def viridis_lut() -> np.ndarray:
    """256×3 uint8 lookup table interpolated from plotly's Viridis."""
    stops = np.array([hex_to_rgb(c) for c in sequential.Viridis], dtype=np.float64)
    xs = np.linspace(0, 1, len(stops))
    t = np.linspace(0, 1, 256)
    return np.stack([np.interp(t, xs, stops[:, i]) for i in range(3)], axis=1).round().astype(np.uint8)


def colorize(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """A 2-D array -> RGB uint8, normalised to [lo, hi] (default: its own range)."""
    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    return viridis_lut()[np.clip(scaled * 255 + 0.5, 0, 255).astype(np.uint8)]


def default_block(cap: Capture) -> str:
    """The block the views open on: the first of layer2 (the first downsampling block), else the first."""
    return next((n for n in cap.maps if n.startswith("layer2.")), next(iter(cap.maps)))


def top_channels(cap: Capture, block: str, k: int) -> list[int]:
    """The ``k`` channels with the highest mean activation, strongest first."""
    means = cap.maps[block].channel_means
    k = max(1, min(int(k), len(means)))
    order = np.argsort(-means, kind="stable")
    return [int(c) for c in order[:k]]


def channel_grid(cap: Capture, block: str, k: int = 16) -> tuple[np.ndarray, list[int]]:
    """The top-k channels of ``block`` as one RGB image (row-major, strongest first), each normalised to its
    own range and labelled with its index (white on black, top left, so a figure reads on its own); returns
    the image and the channel indices in tile order."""
    channels = top_channels(cap, block, k)
    m = cap.maps[block]
    cols = int(np.ceil(np.sqrt(len(channels))))
    rows = int(np.ceil(len(channels) / cols))
    step = GRID_TILE + GRID_GAP
    grid = Image.new("RGB", (cols * step - GRID_GAP, rows * step - GRID_GAP), "white")
    draw, font = ImageDraw.Draw(grid), ImageFont.load_default()
    for i, c in enumerate(channels):
        y, x = (step * n for n in divmod(i, cols))
        grid.paste(Image.fromarray(colorize(m.channel(c))).resize((GRID_TILE, GRID_TILE), Image.Resampling.NEAREST),
                   (x, y))
        *_, right, bottom = draw.textbbox((x + 2, y + 1), str(c), font=font)
        draw.rectangle((x, y, right + 2, bottom + 1), fill=LABEL_BOX)
        draw.text((x + 2, y + 1), str(c), fill=(255, 255, 255), font=font)
    return np.asarray(grid), channels


def channel_zoom_figure(cap: Capture, block: str, channel: int) -> go.Figure:
    """One channel as a heatmap with its value range on the colour bar."""
    m = cap.maps[block]
    if not 0 <= channel < m.shape[0]:
        raise ValueError(f"channel must be from 0 to {m.shape[0] - 1} for {block}, got {channel}")
    values = m.channel(channel)
    c, h, w = m.shape
    size = (f"pooled to {values.shape[0]}×{values.shape[1]} from {h}×{w}, full-resolution max {m.channel_maxima[channel]:.3g}"
            if m.pooled else f"full map {h}×{w}")
    heat = go.Heatmap(z=values[::-1], colorscale="Viridis", colorbar=dict(title="activation"),
                      hovertemplate="x %{x}, y %{y}<br>activation %{z:.4f}<extra></extra>")
    return go.Figure(heat, dict(
        title=dict(text=f"{block}, channel {channel}: range {values.min():.3g} … {values.max():.3g} "
                        f"(mean {m.channel_means[channel]:.3g}; {size})", x=0.01),
        height=420, margin=dict(l=40, r=20, t=50, b=30), template=TEMPLATE,
        xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False, scaleanchor="x"),
    ))


def grid_channel(channels: list[int], x: int, y: int) -> int | None:
    """The channel of ``channel_grid``'s tile at pixel (x, y) of the grid, None between tiles or past the last."""
    cols, step = int(np.ceil(np.sqrt(len(channels)))), GRID_TILE + GRID_GAP
    col, row = divmod(x, step), divmod(y, step)
    if col[1] >= GRID_TILE or row[1] >= GRID_TILE or col[0] >= cols:
        return None
    i = row[0] * cols + col[0]
    return channels[i] if 0 <= i < len(channels) else None


def overlay(cap: Capture, block: str, alpha: float = 0.55, channel: int | None = None) -> np.ndarray:
    """The block's mean activation (or one channel's) as a heatmap over the crop the network saw."""
    if cap.crop is None:
        raise ValueError("this capture has no input image to overlay on")
    base = np.asarray(cap.crop.convert("RGB"), dtype=np.float32)
    values = cap.maps[block].mean_map() if channel is None else cap.maps[block].channel(channel)
    heat = Image.fromarray(colorize(values)).resize(cap.crop.size, Image.Resampling.BILINEAR)
    return (base * (1 - alpha) + np.asarray(heat, dtype=np.float32) * alpha).round().astype(np.uint8)


def _stacked_rows(titles: tuple[str, ...], spacing: float = 0.06) -> dict:
    """Layout for rows of plots sharing one x axis (ticks on the bottom row), each titled at its top left
    (clear of a legend on the right).

    Built as a plain dict: make_subplots validates its layout update by update and costs more than the
    rest of the figure together.
    """
    n = len(titles)
    height = (1 - spacing * (n - 1)) / n
    layout: dict = {"annotations": []}
    for row, title in enumerate(titles, start=1):
        top = 1 - (row - 1) * (height + spacing)
        suffix = "" if row == 1 else str(row)
        layout[f"xaxis{suffix}"] = dict(anchor=f"y{suffix}", domain=[0, 1], matches=None if row == n else f"x{n}",
                                        showticklabels=row == n)
        layout[f"yaxis{suffix}"] = dict(anchor=f"x{suffix}", domain=[top - height, top])
        layout["annotations"].append(dict(text=title, x=0, y=top, xref="paper", yref="paper", xanchor="left",
                                          yanchor="bottom", showarrow=False, font=dict(size=15)))
    return layout


def _shortcut_note(s: BlockStats) -> str:
    if not s.projection:
        return ""
    return f" (shortcut: {s.shortcut_kind})" if s.shortcut_kind else " (projection shortcut)"


def network_figure(cap: Capture, selected: str | None = None) -> go.Figure:
    """Across the network: sparsity, mean ± std, and ‖F(x)‖ / ‖shortcut‖ per block, projections marked."""
    b = cap.blocks
    names = [s.name for s in b]
    layout = _stacked_rows(("fraction of zeros after the ReLU", "mean ± std of the block output",
                            "‖F(x)‖ / ‖shortcut‖: how much the residual branch adds"))
    hover = [f"<b>{s.name}</b>{_shortcut_note(s)}<br>{s.channels} channels, {s.dead_channels} dead" for s in b]
    proj = [s for s in b if s.projection]
    marked = "projection shortcut" if all(s.shortcut_tag == "proj" for s in proj) else "shape-changing shortcut"
    traces = [
        go.Scatter(x=names, y=[s.zero_fraction for s in b], mode="lines+markers", name="zeros", customdata=hover,
                   hovertemplate="%{customdata}<br>zeros %{y:.1%}<extra></extra>", line=dict(color="#1c7ed6")),
        go.Scatter(x=names, y=[s.mean for s in b], mode="lines+markers", name="mean", xaxis="x2", yaxis="y2",
                   error_y=dict(type="data", array=[s.std for s in b], thickness=1, color="#adb5bd"),
                   customdata=hover, hovertemplate="%{customdata}<br>mean %{y:.3g}<extra></extra>",
                   line=dict(color="#2b8a3e")),
        go.Scatter(x=names, y=[s.residual_ratio for s in b], mode="lines+markers", name="‖F‖/‖shortcut‖",
                   xaxis="x3", yaxis="y3", customdata=[[h, s.residual_norm, s.shortcut_norm] for h, s in zip(hover, b)],
                   hovertemplate="%{customdata[0]}<br>‖F‖ %{customdata[1]:.4g} / ‖shortcut‖ "
                                 "%{customdata[2]:.4g} = %{y:.3g}<extra></extra>", line=dict(color="#1098ad")),
        go.Scatter(x=[s.name for s in proj], y=[s.residual_ratio for s in proj], mode="markers", xaxis="x3",
                   yaxis="y3", name=marked, hoverinfo="skip",
                   marker=dict(symbol="diamond", size=11, color=PROJECTION, line=dict(color="black", width=1))),
    ]
    if selected in names:  # a dotted line through every row at the selected block
        at = names.index(selected)
        layout["shapes"] = [dict(type="line", x0=at, x1=at, y0=0, y1=1, xref=f"x{r}", yref=f"y{r} domain",
                                 line=dict(color=SELECTED, dash="dot")) for r in ("", "2", "3")]
    layout["xaxis3"]["tickangle"] = -60
    layout.update(height=640, template=TEMPLATE, margin=dict(l=50, r=20, t=60, b=60),
                  title=dict(text=f"{cap.model_name}: activations across the network", x=0.01),
                  legend=dict(orientation="h", y=1.06, x=1, xanchor="right"))
    return go.Figure(traces, layout)


def block_facts(cap: Capture, block: str, k: int = 5) -> dict[str, str]:
    """What one image did in ``block``, in words for the block inspector."""
    s = cap.stats(block)
    return {"top channels": ", ".join(str(c) for c in top_channels(cap, block, k)),
            "zeros": f"{s.zero_fraction:.1%}", "dead channels": f"{s.dead_channels:,} of {s.channels:,}",
            "mean ± std": f"{s.mean:.3g} ± {s.std:.3g}", "‖F(x)‖ / ‖shortcut‖": f"{s.residual_ratio:.3g}"}


STAT_COLUMNS = ("block", "output", "zeros", "dead", "mean", "std", "‖F(x)‖", "‖shortcut‖", "‖F‖/‖shortcut‖")


def stat_rows(cap: Capture) -> list[list[str]]:
    """One row per block for tables (CLI, CSV): STAT_COLUMNS, formatted."""
    return [[f"{b.name}{f' ({b.shortcut_tag})' if b.projection else ''}", format_shape(cap.maps[b.name].shape),
             f"{b.zero_fraction:.1%}", str(b.dead_channels), f"{b.mean:.4g}", f"{b.std:.4g}", f"{b.residual_norm:.4g}",
             f"{b.shortcut_norm:.4g}", f"{b.residual_ratio:.3g}"] for b in cap.blocks]


def capture_dict(cap: Capture) -> dict:
    """The capture's statistics as plain data (JSON): per-block records, notices, logits-free."""
    return {"model": cap.model_name, "device": cap.device, "notices": list(cap.notices),
            "blocks": [{**asdict(b), "shape": list(cap.maps[b.name].shape)} for b in cap.blocks]}


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    return tuple(CLASSES_FILE.read_text().splitlines())


def read_labels(path: str | None, max_bytes: int = 4 * 2**20) -> tuple[str, ...] | None:
    """Class names from a text file, one per line (blank lines kept as positions); ValueError if unreadable."""
    if not path:
        return None
    p = Path(path)
    if p.stat().st_size > max_bytes:
        raise ValueError(f"the labels file is over {max_bytes // 2**20} MiB")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError("the labels file is not UTF-8 text (one class name per line)") from None
    return tuple(line.strip() for line in lines)


def label_names(n: int, labels: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Names of ``n`` outputs: ``labels`` (one per output), ImageNet's for 1000, otherwise ``class 3``."""
    if labels is not None and len(labels) != n:
        raise ValueError(f"the labels file has {len(labels)} names but the model has {n} outputs")
    names = labels or (class_names() if n == len(class_names()) else ())
    return tuple(name or f"class {i}" for i, name in enumerate(names)) or tuple(f"class {i}" for i in range(n))


def top5(cap: Capture, labels: tuple[str, ...] | None = None) -> dict[str, float]:
    """The five most likely classes with probabilities: named by ``labels`` (one per output), by ImageNet's
    names for a 1000-class head, otherwise ``class 3``."""
    logits = cap.logits.astype(np.float64)
    names = label_names(logits.shape[0], labels)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    order = np.argsort(-p)[:5]
    return {names[i]: float(p[i]) for i in order}
