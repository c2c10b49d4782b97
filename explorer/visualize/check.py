"""What comes with every picture (Geirhos et al. 2024 showed that a feature visualization can be made to lie): how
strongly it drives its channel against the real images a dataset run ranked first, and whether the way it gets
there looks like real images' — each earlier block's channel means against that block's dataset statistics.

A real image's channel means sit within a channel's spread over the dataset's positions (|z| ≲ 1); a picture
whose earlier blocks sit far outside it reaches the channel by another route than real images do."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .optimise import Visualization

TYPICAL_Z = 1.0  # a block whose median |z| is at most this looks like real images' there


class DatasetRun(Protocol):
    """What a finished dataset run gives (``explorer.dataset.views.RunFiles``): rows of channels.csv and top.csv
    by block."""

    channels: dict[str, list[dict]]
    top: dict[str, list[dict]]


@dataclass(frozen=True)
class Check:
    peak: float  # the picture's spatial maximum of its channel
    mean: float
    top_value: float | None  # the channel's best dataset image's spatial maximum
    top_image: str | None
    path: tuple[tuple[str, float], ...]  # (earlier block, median |z| of its channel means)

    @property
    def ratio(self) -> float | None:
        return None if not self.top_value else self.peak / self.top_value

    @property
    def unlike(self) -> list[tuple[str, float]]:
        return [(b, z) for b, z in self.path if z > TYPICAL_Z]

    @property
    def line(self) -> str:
        head = f"Reaches {self.peak:.3g} at its peak (mean {self.mean:.3g})"
        if self.top_value is None:
            return (f"{head}. No dataset run of this model is open: run or open one to compare this picture with "
                    "real images.")
        head += (f": {self.ratio:.2g}× the channel's top dataset image ({self.top_value:.3g}, {self.top_image})"
                 if self.top_value > 0 else f"; the channel never fired on the dataset (top {self.top_value:.3g})")
        if not self.path:
            return head + "."
        off = self.unlike
        tail = (f"Path: like the dataset's at {len(self.path) - len(off)} of {len(self.path)} earlier blocks "
                f"(median |z| ≤ {TYPICAL_Z:g})")
        if off:
            worst = max(off, key=lambda p: p[1])
            tail += f"; unlike at {', '.join(b for b, _ in off[:3])}{' …' if len(off) > 3 else ''} " \
                    f"(worst {worst[0]}, median |z| {worst[1]:.2g})"
        return f"{head}. {tail}."


def _column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in sorted(rows, key=lambda r: int(r["channel"]))])


def check(v: Visualization, run: DatasetRun | None) -> Check:
    """The check of one picture, against ``run`` when there is one of the same model and weights."""
    if run is None or v.block not in run.channels:
        return Check(v.peak, v.mean, None, None, ())
    best = [r for r in run.top.get(v.block, []) if int(r["channel"]) == v.channel and int(r["rank"]) == 1]
    path = []
    for block, means in v.path.items():
        if block == v.block:
            break
        rows = run.channels.get(block)
        if not rows or len(rows) != len(means):
            continue
        mu, sd = _column(rows, "mean"), _column(rows, "std")
        live = sd > 0
        if live.any():
            path.append((block, float(np.median(np.abs(means[live] - mu[live]) / sd[live]))))
    top = float(best[0]["value"]) if best else None
    return Check(v.peak, v.mean, top, best[0]["image"] if best else None, tuple(path))


__all__ = ["TYPICAL_Z", "Check", "DatasetRun", "check"]
