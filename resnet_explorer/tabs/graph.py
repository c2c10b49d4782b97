"""The Graph tab: the architecture graph at four levels or the paper figure, and every export."""
from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from explorer.figures.themes import THEMES
from explorer.graph.dot import DIRECTIONS
from explorer.graph.formats import EXPORT_FORMATS
from explorer.graph.levels import LEVELS
from explorer.graph.render import DEFAULT_DPI, INSTALL_HINT, MAX_DPI, MIN_DPI, dot_available

from .. import events
from ..handlers.graph import make_export, paper_level, show_graph
from ..html import notice_html
from ..settings import ASSETS
from . import Page, TabView

LEVEL_HELP = {"stages": "one node per stage", "blocks": "one node per residual block",
              "layers": "conv / BN / ReLU inside blocks", "ops": "torchview: every operation"}
STYLE_CHOICES = [("graph (Graphviz)", "graph"), ("paper (3-D boxes, residual arcs)", "paper"),
                 ("paper, flat", "flat")]
FORMAT_LABELS = {"tex": "TeX", "drawio": "draw.io", "mermaid": "Mermaid", "graphml": "GraphML"}


@dataclass
class GraphView(TabView):
    """The tab, its figure options (``inputs``: level, direction, collapse, style, theme, width) and exports."""

    buttons: dict[str, gr.Button] = field(default_factory=dict)
    dpi: gr.Slider | None = None
    export_file: gr.File | None = None


def build(page: Page) -> GraphView:
    with gr.Tab("Graph", id="graph", elem_id="tab-graph") as tab:
        if not dot_available():
            gr.HTML(notice_html(INSTALL_HINT), elem_id="graphviz-notice")
        with gr.Row():
            style = gr.Radio(STYLE_CHOICES, value="graph", label="Style", elem_id="graph-style", scale=3)
            theme = gr.Radio(list(THEMES), value="light", label="Paper theme", elem_id="graph-theme", scale=1)
            fig_size = gr.Radio([("one column", "column"), ("page width", "page")], value="column",
                                label="Paper width", elem_id="graph-size", scale=1)
        with gr.Row():
            level = gr.Radio([(f"{lv} ({LEVEL_HELP[lv]})", lv) for lv in LEVELS], value="blocks", label="Level",
                             elem_id="graph-level", scale=3)
            direction = gr.Radio([(v, k) for k, v in DIRECTIONS.items()], value="TB", label="Direction",
                                 elem_id="graph-direction", scale=1)
            collapse = gr.Checkbox(False, label="Fold repeated blocks (×N)", elem_id="graph-collapse", scale=1)
        graph = gr.HTML(elem_id="graph", js_on_load=(ASSETS / "panzoom.js").read_text(), min_height=420)
        with gr.Row(elem_id="export-row"):
            buttons = {fmt: gr.Button(FORMAT_LABELS.get(fmt, fmt.upper()), size="sm", elem_id=f"export-{fmt}",
                                      min_width=60) for fmt in EXPORT_FORMATS}
            dpi = gr.Slider(MIN_DPI, MAX_DPI, value=DEFAULT_DPI, step=1, label="PNG DPI (72 = 1 px per pt)",
                            elem_id="png-dpi", scale=2)
        export_file = gr.File(label="Download", elem_id="export-file", interactive=False)

    def fill(spec: str, size: float, _batch: float, _selected: str, *options: object) -> tuple[str]:
        return (show_graph(spec, size, *options),)

    return GraphView("graph", tab, fill, [graph], [level, direction, collapse, style, theme, fig_size],
                     buttons=buttons, dpi=dpi, export_file=export_file)


def wire(page: Page, view: GraphView) -> None:
    """/graph on any figure option; /export_<format> on its button; a paper style moves the level to one it
    draws."""
    level, direction, collapse, style, theme, fig_size = view.inputs
    gr.on([c.change for c in view.inputs], show_graph, [*page.where, *view.inputs], view.outputs, api_name="graph",
          **events.VIEW)
    style.input(paper_level, [style, level], level, api_name="paper_level", **events.INSTANT)
    for fmt, button in view.buttons.items():
        button.click(make_export(fmt), [*page.where, level, direction, collapse, view.dpi, style, theme, fig_size],
                     view.export_file, api_name=f"export_{fmt}")
