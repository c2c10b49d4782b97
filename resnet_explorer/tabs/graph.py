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
from ..handlers.graph import DEFAULTS, make_export, paper_level, paper_options, show_graph, shown
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
    """The figure leads: one row of options over it (the paper's theme and width beside them), the exports
    under it; the landing model's figure is there at first paint (``page.landing``)."""
    with gr.Tab("Graph", id="graph", elem_id="tab-graph") as tab:
        if not dot_available():
            gr.HTML(notice_html(INSTALL_HINT), elem_id="graphviz-notice")
        with gr.Row(elem_id="graph-options", equal_height=True):
            style = gr.Dropdown(STYLE_CHOICES, value=DEFAULTS.style, label="Style", elem_id="graph-style",
                                scale=0, min_width=250)
            level = gr.Radio([(lv, lv) for lv in LEVELS], value=DEFAULTS.level, label="Level", elem_id="graph-level",
                             scale=0, min_width=400)
            direction = gr.Dropdown([(v, k) for k, v in DIRECTIONS.items()], value=DEFAULTS.direction,
                                    label="Direction", elem_id="graph-direction", scale=0, min_width=160)
            collapse = gr.Checkbox(DEFAULTS.collapse, label="Fold repeated blocks (×N)", elem_id="graph-collapse",
                                   scale=0, min_width=130)
            # the paper figure's own options, shown with it
            theme = gr.Radio(list(THEMES), value=DEFAULTS.theme, label="Paper theme", elem_id="graph-theme",
                             scale=0, min_width=160, visible=DEFAULTS.style != "graph")
            fig_size = gr.Radio([("column", "column"), ("page width", "page")], value=DEFAULTS.fig_size,
                                label="Paper width", elem_id="graph-size", scale=0, min_width=220,
                                visible=DEFAULTS.style != "graph")
        graph = gr.HTML(page.landing.graph, elem_id="graph", js_on_load=(ASSETS / "panzoom.js").read_text(), min_height=420)
        with gr.Row(elem_id="export-row"):
            buttons = {fmt: gr.Button(FORMAT_LABELS.get(fmt, fmt.upper()), size="sm", elem_id=f"export-{fmt}",
                                      min_width=60) for fmt in EXPORT_FORMATS}
            dpi = gr.Slider(MIN_DPI, MAX_DPI, value=DEFAULT_DPI, step=1, label="PNG DPI", elem_id="png-dpi",
                            scale=0, min_width=260)  # (wide enough that its label stays on one line)
        export_file = gr.File(label="Download", elem_id="export-file", interactive=False, visible=False)

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
    style.change(paper_options, style, [theme, fig_size], api_name="paper_options", **events.INSTANT)
    for fmt, button in view.buttons.items():  # the download box appears with the first file
        button.click(make_export(fmt), [*page.where, level, direction, collapse, view.dpi, style, theme, fig_size],
                     view.export_file, api_name=f"export_{fmt}", **events.WORK) \
            .success(shown, None, view.export_file, **events.INSTANT)
