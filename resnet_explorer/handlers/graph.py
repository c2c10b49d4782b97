"""The architecture graph (Graphviz) or the paper figure as zoomable SVG, and every export as a file."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import gradio as gr

from explorer.figures import STYLES
from explorer.figures.paper import SIZES, UNITS
from explorer.figures.themes import THEMES
from explorer.graph.render import INSTALL_HINT, GraphvizMissing

from .. import lib
from ..context import APP
from ..html import graph_html, notice_html
from ..refusals import Refusal, titled
from ..settings import OUTPUT_ROOT
from .checks import model_and_size, whole


class GraphOptions(NamedTuple):
    """The Graph tab's options, in the order /graph takes them after the model and input size."""

    level: str = "blocks"
    direction: str = "TB"
    collapse: bool = False
    style: str = "graph"
    theme: str = "light"
    fig_size: str = "column"


DEFAULTS = GraphOptions()  # what the tab shows first (and the landing view draws)


def _check_options(level: str, direction: str, style: str, theme: str, fig_size: str) -> None:
    try:
        lib.check_graph_options(level, direction)
    except ValueError as exc:
        raise Refusal(str(exc), "Invalid graph options") from None
    for name, value, allowed in (("style", style, STYLES), ("theme", theme, THEMES), ("size", fig_size, SIZES)):
        if value not in allowed:
            raise Refusal(f"{name} must be one of {list(allowed)}, got {value!r}", "Invalid figure options")


def paper_level(style: str, level: str) -> str:
    """The level a figure of ``style`` draws: the paper styles draw stages or blocks."""
    return level if style == "graph" or level in UNITS else "stages"


def show_graph(spec: str, input_size: float, level: str, direction: str, collapse: bool, style: str = "graph",
               theme: str = "light", fig_size: str = "column") -> str:
    """The graph (or the paper figure) as zoomable SVG, or a notice saying how to install Graphviz. A paper
    figure draws stages or blocks: at a finer level it shows the stages (the level control follows)."""
    config, size = model_and_size(spec, input_size)
    _check_options(level, direction, style, theme, fig_size)
    try:
        trace = lib.structure_trace(config, size)
        if style != "graph":
            svg = lib.export_bytes(config, "svg", size, paper_level(style, level), direction, bool(collapse),
                                   style=style, theme=theme, size=fig_size)
            return graph_html(svg, trace)
        return graph_html(lib.rendered(config, size, level, direction, bool(collapse)), trace)
    except GraphvizMissing:
        gr.Warning(INSTALL_HINT)
        return notice_html(INSTALL_HINT)


def make_export(fmt: str) -> Callable[..., str]:
    """The download handler for one format; files land in a fresh folder under a server-chosen name."""

    @titled("Cannot export")
    def export(spec: str, input_size: float, level: str, direction: str, collapse: bool, dpi: float,
               style: str = "graph", theme: str = "light", fig_size: str = "column") -> str:
        config, size = model_and_size(spec, input_size)
        _check_options(level, direction, style, theme, fig_size)
        APP.tidy_disk()
        return str(lib.write_export(config, fmt, root=OUTPUT_ROOT, input_size=size, level=level, direction=direction,
                                    collapse=bool(collapse), dpi=whole("DPI", dpi), style=style, theme=theme,
                                    size=fig_size))

    export.__name__ = f"export_{fmt}"
    return export


def paper_options(style: str) -> tuple[Any, Any]:
    """The paper figure's theme and width, shown with a paper style."""
    return (gr.update(visible=style != "graph"),) * 2


def shown() -> Any:
    """A component made visible (the download box, once it holds a file)."""
    return gr.update(visible=True)
