"""Figures of a Trace in every format: the Graphviz graphs and the paper figure, as SVG / PDF / PNG, TikZ,
draw.io, Mermaid and GraphML.

    style "graph"   the stages / blocks / layers graph, laid out by Graphviz
    style "paper"   the classic CNN figure (3-D boxes, residual arcs; ``paper.py``), "flat" its 2-D variant

Drawing formats go through one Scene (``scene.py``) so SVG, TikZ and draw.io show the same picture; Mermaid
and GraphML describe the graph's structure (the paper styles use the graph at the same level).
"""
from __future__ import annotations

from ..graph.dot import DIRECTIONS, to_dot
from ..graph.levels import build_graph
from ..graph.render import DEFAULT_DPI, check_dpi, render
from ..tracing.records import Trace
from .paper import SIZES, UNITS
from .themes import THEMES

STYLES: tuple[str, ...] = ("graph", "paper", "flat")
FIGURE_FORMATS: tuple[str, ...] = ("svg", "pdf", "png", "dot", "tex", "drawio", "mermaid", "graphml")
EXTENSIONS = {"mermaid": "md"}  # a fenced block, ready for a Markdown file
GRAPH_LEVELS = ("stages", "blocks", "layers")


def check_figure_options(fmt: str, style: str = "graph", level: str = "blocks", theme: str = "light",
                         size: str = "column") -> None:
    """ValueError naming the option and what is allowed."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {list(STYLES)}, got {style!r}")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"figure format must be one of {list(FIGURE_FORMATS)}, got {fmt!r}")
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {list(THEMES)}, got {theme!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)} (one column or the full page width), got {size!r}")
    if style != "graph" and level not in UNITS:
        raise ValueError(f"a {style} figure draws {' or '.join(UNITS)}, not {level!r}")
    if style != "graph" and fmt == "dot":
        raise ValueError("DOT is the Graphviz source of the graph style; a paper figure exports as SVG, PDF, PNG, "
                         "TeX, draw.io, Mermaid or GraphML")
    if style == "graph" and level not in GRAPH_LEVELS and fmt not in ("svg", "pdf", "png", "dot"):
        raise ValueError(f"the {level} level exports as SVG, PDF, PNG or DOT; TeX, draw.io, Mermaid and GraphML "
                         f"draw the {', '.join(GRAPH_LEVELS)} levels")


def figure(t: Trace, fmt: str = "svg", style: str = "paper", level: str = "stages", direction: str = "TB",
           collapse: bool = False, theme: str = "light", size: str = "column", dpi: int = DEFAULT_DPI) -> bytes:
    """``t`` drawn in ``style`` as ``fmt`` bytes (text formats UTF-8)."""
    check_figure_options(fmt, style, level, theme, size)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {list(DIRECTIONS)}, got {direction!r}")
    check_dpi(dpi)
    graph = build_graph(t, level, collapse) if fmt in ("dot", "mermaid", "graphml") or style == "graph" else None
    if fmt == "mermaid":
        from .mermaid import to_mermaid

        return to_mermaid(graph, direction if style == "graph" else "LR").encode()
    if fmt == "graphml":
        from .graphml import to_graphml

        return to_graphml(graph, t).encode()
    if style == "graph" and fmt in ("svg", "pdf", "png", "dot"):
        source = to_dot(graph, direction)
        return source.encode() if fmt == "dot" else render(source, fmt, dpi)
    if style == "graph":
        from .graph_scene import graph_scene

        scene = graph_scene(graph, direction)
    else:
        from .paper import paper_scene

        scene = paper_scene(t, level, flat=style == "flat", theme=theme, size=size)
    if fmt == "tex":
        from .tikz import to_tex

        return to_tex(scene).encode()
    if fmt == "drawio":
        from .drawio import to_drawio

        return to_drawio(scene).encode()
    from .svg import svg_to, to_svg

    svg = to_svg(scene)
    return svg.encode() if fmt == "svg" else svg_to(svg, fmt, dpi)
