"""ResNet Explorer as a library: trace any ResNet-family model, analyse and draw its structure, measure what it
needs in memory, capture its activations and class activation maps.

Never imports gradio, so it works from scripts, notebooks and the CLI (``python -m explorer``).

Module map — two pipelines over frozen records:

    model spec ─► tracing/ ─► Trace ─► structure/  tables, analytics, memory, comparisons, plotly figures
    (models.py)                       └► graph/     stages/blocks/layers graphs, Graphviz render, exports
                                      └► figures/   the paper figure; SVG/PDF/PNG, TikZ, draw.io, Mermaid, GraphML
    image ─► features/ ─► Capture ─► features/views  channel grids, overlay, across-network plots
                     └► CamRun  ─► features/cam_views  class maps over the crop, per stage

    models.py   what a spec names (ours, timm:…) and which model a checkpoint is
    tracing/    layout.py (the ResNet in any module, by structure), identify.py (its name and closest config),
                hooks.py (hooks as context managers), records.py (Trace and its records), tracer.py
                (one forward pass -> Trace), macs.py, memory.py and meta.py (memory measured on the meta
                device; profile.py its records), device.py, cache.py (structure traces by model, on the meta
                device). Records, profiles and their views import without torch.
    structure/  analysis.py (channel ratios, transitions, receptive fields, cost shares), memory.py, compare.py,
                tables.py (rows and text tables), figures.py (plotly), views.py (per-config bundles, cached),
                inspector.py (one block: the code that builds it and its facts)
    graph/      levels.py (graph records per level), dot.py (Graphviz source), render.py (dot -> SVG/PDF/PNG),
                torchview_ops.py (the ops level), export.py (files and their names)
    figures/    scene.py (a drawing as boxes, curves and text), paper.py (the paper figure's layout),
                graph_scene.py (a graph laid out by Graphviz), svg.py, tikz.py, drawio.py (Scene writers),
                mermaid.py and graphml.py (a graph's structure), themes.py; ``figure(trace, fmt, style)``
    features/   images.py (safe decoding), capture.py (per-block maps and statistics), cam.py (class activation
                maps at every block), store.py (models, captures and CAM runs kept for a server), views.py and
                cam_views.py (what they show)
    limits.py   every resource limit as one value; files.py output folders; theme.py plotly template;
                palette.py the colours that mean one thing in every view;
                cli.py the command line

The names below are loaded on first use, so ``import explorer`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "trace": "tracing.tracer", "structure_trace": "tracing.cache", "resolve_device": "tracing.device",
    "eval_mode": "tracing.hooks", "forward_hooks": "tracing.hooks",
    "Trace": "tracing.records", "BlockRecord": "tracing.records", "ConvRecord": "tracing.records",
    "DownsampleRecord": "tracing.records", "LayerRecord": "tracing.records", "ModuleRecord": "tracing.records",
    "StageRecord": "tracing.records", "format_shape": "tracing.records",
    "MIN_INPUT_SIZE": "limits", "Limits": "limits",
    "BLOCK_COLUMNS": "structure.tables", "STAGE_COLUMNS": "structure.tables", "block_rows": "structure.tables",
    "format_table": "structure.tables", "stage_rows": "structure.tables", "totals": "structure.tables",
    "totals_markdown": "structure.tables", "figure": "figures",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
