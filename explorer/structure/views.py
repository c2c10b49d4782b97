"""What the structure and compare tabs show for a config, computed once and cached by config.

Figures are returned as shared objects: callers must not mutate them.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go

from resnet import PRESETS
from resnet.config import CIFAR_SIZE

from ..models import Model
from ..tracing.cache import check_input_size, structure_trace
from .analysis import BLOCK_ANALYTICS_COLUMNS, STAGE_STATS_COLUMNS, channels, receptive_fields, stage_stats_rows
from .compare import Comparison, compare, compare_rows
from .figures import channels_figure, compare_figures, cost_figure, transition_figure




@dataclass(frozen=True)
class StructureViews:
    channels: go.Figure
    transitions: go.Figure
    costs: go.Figure
    stage_stats: list[list[Any]]  # STAGE_STATS_COLUMNS: cost shares, output stride, receptive field per stage
    block_analytics: list[list[Any]]  # BLOCK_ANALYTICS_COLUMNS


@dataclass(frozen=True)
class CompareViews:
    comparison: Comparison
    rows: list[list[Any]]
    channels: go.Figure
    costs: go.Figure


def structure_views(config: Model, input_size: int = 224) -> StructureViews:
    return _structure_views(config, check_input_size(input_size))


@lru_cache(maxsize=32)
def _structure_views(config: Model, input_size: int) -> StructureViews:
    t = structure_trace(config, input_size)
    rf = {r.name: r for r in receptive_fields(t)}
    blocks = [[c.block, c.block_type, c.in_channels, c.width, c.out_channels, round(c.ratio, 3),
               rf[c.block].output_stride, rf[c.block].size] for c in channels(t)]
    return StructureViews(channels_figure(t), transition_figure(t), cost_figure(t), stage_stats_rows(t), blocks)


def compare_views(a: Model, b: Model, input_size: int = 224) -> CompareViews:
    return _compare_views(a, b, check_input_size(input_size))


@lru_cache(maxsize=32)
def _compare_views(a: Model, b: Model, input_size: int) -> CompareViews:
    ta, tb = structure_trace(a, input_size), structure_trace(b, input_size)
    c = compare(ta, tb)
    ratio, cost = compare_figures(ta, tb, c)
    return CompareViews(c, compare_rows(c), ratio, cost)


def warm_presets(input_size: int = 224) -> threading.Thread:
    """Trace every preset and build its views in a background thread, so switching presets is instant: the
    ImageNet family at ``input_size``, then the CIFAR family at the 32 px it is shown at (ResNet-1202 last)."""

    def work() -> None:
        for preset in PRESETS.values():
            structure_views(preset.config, CIFAR_SIZE if preset.config.cifar else input_size)

    thread = threading.Thread(target=work, name="warm-presets", daemon=True)
    thread.start()
    return thread


__all__ = ["BLOCK_ANALYTICS_COLUMNS", "CompareViews", "STAGE_STATS_COLUMNS", "StructureViews", "compare_views",
           "structure_views", "warm_presets"]
