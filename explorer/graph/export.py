"""Diagram and data exports: a graph or paper figure (SVG / PDF / PNG / DOT / TeX / draw.io / Mermaid /
GraphML), the trace as JSON, the block table as CSV.

File names say what they hold (``resnet152_blocks.svg``, ``resnet50_paper_stages.tex``); files go to a fresh
temporary folder each time. Sources and renders are cached by model and options, so a repeat is nearly free.
"""
from __future__ import annotations

import csv
import io
import json
import os
from functools import lru_cache
from pathlib import Path



from ..figures import EXTENSIONS, FIGURE_FORMATS, check_figure_options, figure
from ..files import fresh_folder
from .formats import EXPORT_FORMATS
from ..models import Model, meta_model
from ..tracing.cache import check_input_size, structure_trace
from ..tracing.records import Trace, format_shape
from .dot import DIRECTIONS, to_dot
from .levels import LEVELS, build_graph
from .render import DEFAULT_DPI, RENDER_FORMATS, check_dpi, check_png_size, render
from .torchview_ops import ops_dot

CSV_COLUMNS = ("block", "stage", "index", "type", "in_shape", "out_shape", "width", "expansion", "stride",
               "dilation", "downsample", "downsample_in", "downsample_out", "params", "macs")


def check_graph_options(level: str, direction: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {list(LEVELS)}, got {level!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {list(DIRECTIONS)} ({', '.join(DIRECTIONS.values())}), "
                         f"got {direction!r}")


def export_filename(config: Model, fmt: str, level: str = "blocks", style: str = "graph", theme: str = "light",
                    size: str = "column") -> str:
    if fmt == "json":
        return f"{config.slug}_trace.json"
    if fmt == "csv":
        return f"{config.slug}_blocks.csv"
    ext = EXTENSIONS.get(fmt, fmt)
    if style == "graph":
        return f"{config.slug}_{level}.{ext}"
    extras = "".join(f"_{v}" for v, default in ((theme, "light"), (size, "column")) if v != default)
    return f"{config.slug}_{style}_{level}{extras}.{ext}"


def trace_csv(t: Trace) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for b in t.blocks:
        d = b.downsample
        w.writerow([b.name, b.stage, b.index, b.block_type, format_shape(b.in_shape), format_shape(b.out_shape),
                    b.width, b.expansion, b.stride, b.dilation, d.name if d else "",
                    format_shape(d.in_shape) if d else "", format_shape(d.out_shape) if d else "", b.params, b.macs])
    return buf.getvalue()


def graph_source(config: Model, input_size: int = 224, level: str = "blocks", direction: str = "TB",
                 collapse: bool = False) -> str:
    """Graphviz source of ``config`` at ``level``, from the cached structure trace (ops: torchview)."""
    check_graph_options(level, direction)
    return _graph_source(config, check_input_size(input_size), level, direction, bool(collapse))


def rendered(config: Model, input_size: int = 224, level: str = "blocks", direction: str = "TB",
             collapse: bool = False, fmt: str = "svg", dpi: int = DEFAULT_DPI) -> bytes:
    """SVG / PDF / PNG bytes of a graph; cached by config and options."""
    check_graph_options(level, direction)
    return _rendered(config, check_input_size(input_size), level, direction, bool(collapse), fmt, check_dpi(dpi))


# The caches take positional arguments only, so equal requests always share an entry.
@lru_cache(maxsize=64)
def _graph_source(config: Model, input_size: int, level: str, direction: str, collapse: bool) -> str:
    if level == "ops":
        return ops_dot(meta_model(config), input_size, direction, title=f"{config.spec}: ops")
    return to_dot(build_graph(structure_trace(config, input_size), level, collapse), direction)


@lru_cache(maxsize=64)
def _rendered(config: Model, input_size: int, level: str, direction: str, collapse: bool, fmt: str,
              dpi: int) -> bytes:
    if fmt == "png":
        check_png_size(_rendered(config, input_size, level, direction, collapse, "svg", DEFAULT_DPI), dpi)
    return render(_graph_source(config, input_size, level, direction, collapse), fmt, dpi)


@lru_cache(maxsize=64)
def _figure(config: Model, input_size: int, level: str, direction: str, collapse: bool, fmt: str, dpi: int,
            style: str, theme: str, size: str) -> bytes:
    return figure(structure_trace(config, input_size), fmt, style, level, direction, collapse, theme, size, dpi)


def export_bytes(config: Model, fmt: str, input_size: int = 224, level: str = "blocks", direction: str = "TB",
                 collapse: bool = False, dpi: int = DEFAULT_DPI, style: str = "graph", theme: str = "light",
                 size: str = "column") -> bytes:
    """One export's bytes; ``style`` "paper" or "flat" draws the paper figure (``level`` stages or blocks,
    ``theme`` light or dark, ``size`` column or page)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {list(EXPORT_FORMATS)}, got {fmt!r}")
    if fmt == "json":
        return json.dumps(structure_trace(config, input_size).to_dict(), indent=1).encode()
    if fmt == "csv":
        return trace_csv(structure_trace(config, input_size)).encode()
    check_graph_options(level, direction)
    check_figure_options(fmt, style, level, theme, size)
    if style == "graph" and fmt == "dot":
        return graph_source(config, input_size, level, direction, collapse).encode()
    if style == "graph" and fmt in RENDER_FORMATS:
        return rendered(config, input_size, level, direction, collapse, fmt, dpi)
    assert fmt in FIGURE_FORMATS
    return _figure(config, check_input_size(input_size), level, direction, bool(collapse), fmt, check_dpi(dpi),
                   style, theme, size)


def write_export(config: Model, fmt: str, root: str | os.PathLike[str] | None = None, **options) -> Path:
    """Write an export into a fresh temporary folder (under ``root`` if given); the server picks the name."""
    data = export_bytes(config, fmt, **options)
    names = {k: options[k] for k in ("level", "style", "theme", "size") if k in options}
    path = fresh_folder(root) / export_filename(config, fmt, **names)
    path.write_bytes(data)
    return path
