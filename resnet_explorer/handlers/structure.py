"""Structure views of the applied model: totals, tables, analytics, memory, and a comparison with another
model. All of them come from meta-device traces: no config is too large to show."""
from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from explorer.structure.compare import compare_summary
from explorer.structure.memory import memory_markdown, memory_rows
from explorer.structure.tables import block_rows, readable, stage_rows, totals_markdown

from .. import lib
from .checks import batch_size, model_and_size, model_config


class Summary(NamedTuple):
    totals: str
    stages: list[list[Any]]
    blocks: list[list[Any]]
    memory: list[list[Any]]


class Tables(NamedTuple):
    """The Tables tab: the summary's tables (the totals line is always on screen already)."""

    stages: list[list[Any]]
    blocks: list[list[Any]]
    memory: list[list[Any]]


class StructureViews(NamedTuple):
    channels: Any
    transitions: Any
    costs: Any
    memory: Any
    stage_stats: list[list[Any]]
    block_analytics: list[list[Any]]


class Comparison(NamedTuple):
    summary: str
    table: list[list[Any]]
    channels: Any
    costs: Any


def summarize(spec: str, input_size: float, batch: float = 1) -> Summary:
    """Totals, per-stage and per-block tables, and memory per stage at ``batch`` images."""
    trace = lib.structure_trace(*model_and_size(spec, input_size))
    n = batch_size(batch)
    return Summary(totals_text(spec, input_size, batch), readable(stage_rows(trace)), readable(block_rows(trace, n)),
                   memory_rows(trace, n))


def tables(spec: str, input_size: float, batch: float = 1) -> Tables:
    """The per-stage, per-block and memory tables at ``batch`` images."""
    s = summarize(spec, input_size, batch)
    return Tables(s.stages, s.blocks, s.memory)


def totals_text(spec: str, input_size: float, batch: float = 1) -> str:
    """The totals line over the tabs: shapes, blocks, parameters, MACs and memory at ``batch`` images."""
    trace = lib.structure_trace(*model_and_size(spec, input_size))
    return f"{totals_markdown(trace)}  \n{memory_markdown(trace, batch_size(batch))}"


def structure(spec: str, input_size: float, batch: float = 1, selected: str = "") -> StructureViews:
    """Channel hourglass and ratios (the selected block marked), stage transitions, cost shares, memory per part,
    and the analytics tables."""
    config, size = model_and_size(spec, input_size)
    v = lib.structure_views(config, size)
    memory = lib.memory_figure(lib.structure_trace(config, size), batch_size(batch))
    return StructureViews(lib.highlight_block(v.channels, selected), v.transitions, v.costs, memory,
                          readable(v.stage_stats), readable(v.block_analytics))


def channels_highlight(spec: str, input_size: float, name: str, active: str = "structure") -> Any:
    """The channel plot with the selected block marked (when its tab is open; opening it redraws it)."""
    if active != "structure":
        return gr.skip()
    config, size = model_and_size(spec, input_size)
    return lib.highlight_block(lib.structure_views(config, size).channels, name)


def compare_models(spec: str, input_size: float, other: str) -> Comparison:
    """The model (A) against ``other`` (B: another spec, e.g. resnet101 or bottleneck:3-4-6-3:32x4d)."""
    a, size = model_and_size(spec, input_size)
    v = lib.compare_views(a, model_config(other), size)
    return Comparison(compare_summary(v.comparison), readable(v.rows), v.channels, v.costs)
