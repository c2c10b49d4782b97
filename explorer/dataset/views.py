"""What a dataset run shows: its files read back, a block's channels as rows and as a plot (mean against the
fraction of positions above 0, dead channels marked), and a channel's dataset examples: the crop of each top
image around the channel's maximum, as large as the channel's receptive field, with the channel's map over it
(OpenAI Microscope's dataset examples, for any model and any folder)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from ..limits import DEFAULT_LIMITS, Limits
from ..palette import SELECTED
from ..theme import TEMPLATE
from .folder import DatasetError
from .opened import channel_rows, image_path, lesion_tables, read_summary, top_rows

CHANNEL_COLUMNS = ("channel", "mean", "std", "max", "active fraction", "dead")
TILE = 160


@dataclass
class RunFiles:
    """A finished run: ``summary.json`` (checked: ``opened.check_summary``), and ``channels.csv`` / ``top.csv`` by
    block; ``images`` is the folder its examples are read from, when the caller vouches for one (else None:
    the examples are listed, not drawn)."""

    folder: Path
    summary: dict
    channels: dict[str, list[dict]]
    top: dict[str, list[dict]]
    lesion: list[dict] = field(default_factory=list)  # lesion.csv, where the run had --lesion
    lesion_k: list[dict] = field(default_factory=list)
    images: Path | None = None

    @classmethod
    def load(cls, folder: str | Path, limits: Limits = DEFAULT_LIMITS, images: Path | None = None,
             max_bytes: int | None = None) -> RunFiles:
        """Read a run's files as data: each within ``max_bytes`` (when given), every field and row checked."""
        folder = Path(folder)
        try:
            summary = read_summary(folder / "summary.json", limits)
            channels = channel_rows(folder / "channels.csv", summary["blocks"], max_bytes)
            top = top_rows(folder / "top.csv", channels, summary["top_k"], max_bytes)
            lesion, lesion_k = lesion_tables(folder, summary["blocks"], max_bytes)
        except FileNotFoundError as exc:
            raise DatasetError(f"this run has no {Path(exc.filename or '').name or 'files'} (a finished run has "
                               "summary.json, channels.csv and top.csv)") from None
        except OSError:
            raise DatasetError("this run's files cannot be read") from None
        return cls(folder, summary, channels, top, lesion, lesion_k, images)

    @property
    def blocks(self) -> list[str]:
        return [b for b in self.summary.get("blocks", []) if b in self.channels]

    def block(self, name: str) -> list[dict]:
        if name not in self.channels:
            raise DatasetError(f"no block named {name[:80]!r} in this run; its blocks are {self.blocks[0]} … "
                               f"{self.blocks[-1]}")
        return self.channels[name]

    def rows(self, block: str) -> list[list]:
        """The block's channels as table rows (the page sorts them by any column)."""
        short = lambda v: float(f"{float(v):.4g}")  # noqa: E731 - numbers, so the page sorts them as numbers
        return [[int(r["channel"]), short(r["mean"]), short(r["std"]), short(r["max"]), short(r["active_fraction"]),
                 r["dead"] == "True"] for r in self.block(block)]

    def examples(self, block: str, channel: int) -> list[dict]:
        rows = [r for r in self.top.get(block, []) if int(r["channel"]) == channel]
        if not rows:
            raise DatasetError(f"{block} has no channel {channel}; its channels are 0 … {len(self.block(block)) - 1}")
        return sorted(rows, key=lambda r: int(r["rank"]))


def channels_figure(run: RunFiles, block: str, selected: int | None = None) -> go.Figure:
    """Every channel of ``block``: its mean against its active fraction; dead channels (never above 0 on this
    data) marked apart; the selected channel ringed."""
    rows = run.rows(block)
    live = [r for r in rows if not r[5]]
    dead = [r for r in rows if r[5]]
    fig = go.Figure(layout={"template": TEMPLATE, "height": 380,
                            "title": f"{run.summary['model']} · {block}: channels on {run.summary['images_used']:,} "
                                     "images",
                            "xaxis": {"title": "active fraction (positions > 0)", "range": [-0.02, 1.02]},
                            "yaxis": {"title": "mean activation"}, "legend": {"orientation": "h", "y": -0.2}})
    fig.add_scatter(x=[r[4] for r in live], y=[r[1] for r in live], mode="markers", name="channels",
                    customdata=[r[0] for r in live], hovertemplate="channel %{customdata}<br>active %{x:.1%}<br>"
                    "mean %{y:.3g}<extra></extra>", marker={"size": 6, "opacity": 0.7})
    if dead:
        fig.add_scatter(x=[r[4] for r in dead], y=[r[1] for r in dead], mode="markers", name=f"dead ({len(dead)})",
                        customdata=[r[0] for r in dead], hovertemplate="channel %{customdata}: never above 0"
                        "<extra></extra>", marker={"size": 8, "symbol": "x", "color": "#666666"})
    if selected is not None:
        r = next((r for r in rows if r[0] == selected), None)
        if r is not None:
            fig.add_scatter(x=[r[4]], y=[r[1]], mode="markers", name=f"channel {selected}", hoverinfo="skip",
                            marker={"size": 16, "symbol": "circle-open", "color": SELECTED, "line": {"width": 3}})
    return fig


def example_tile(image: Image.Image, channel_map: np.ndarray, y: int, x: int, stride: int, field: int,
                 alpha: float = 0.5) -> Image.Image:
    """The crop the network saw, around position (y, x) of a block whose positions are ``stride`` pixels
    apart, as large as the channel's receptive field ``field``, with the channel's map over it."""
    from ..features.views import colorize  # the feature maps' colours (that module needs torch)

    w, h = image.size
    heat = Image.fromarray(colorize(channel_map)).resize(image.size, Image.Resampling.BILINEAR)
    blend = Image.blend(image.convert("RGB"), heat, alpha)
    side = int(min(max(field, 32), w, h))
    cx, cy = (x + 0.5) * stride, (y + 0.5) * stride
    left = int(round(min(max(cx - side / 2, 0), w - side)))
    top = int(round(min(max(cy - side / 2, 0), h - side)))
    return blend.crop((left, top, left + side, top + side)).resize((TILE, TILE), Image.Resampling.BILINEAR)


def examples(run: RunFiles, block: str, channel: int, stride: int, field: int,
             channel_map: Callable[[Path], tuple[Image.Image, np.ndarray]]) -> list[tuple[Image.Image, str]]:
    """The channel's top images as tiles with captions; ``channel_map(path)`` gives an image's crop and the
    channel's map on it (one forward pass). Only images inside ``run.images`` are read; the others (not there,
    or no folder vouched for) are left out, all alike."""
    tiles = []
    for row in run.examples(block, channel):
        path = image_path(run.images, row["image"]) if run.images is not None else None
        if path is None:
            continue
        crop, m = channel_map(path)
        tiles.append((example_tile(crop, m, int(row["y"]), int(row["x"]), stride, field),
                      f"#{row['rank']} {row['image']} · max {float(row['value']):.3g}"))
    return tiles


__all__ = ["CHANNEL_COLUMNS", "RunFiles", "channels_figure", "example_tile", "examples"]
