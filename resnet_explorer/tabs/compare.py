"""The Compare tab: the model above (A) against another (B), per stage."""
from __future__ import annotations

import gradio as gr

from explorer.structure.compare import COMPARE_COLUMNS
from resnet import PRESETS

from .. import events
from ..handlers.structure import Comparison, compare_models
from . import Page, TabView, outputs_of


def build(page: Page) -> TabView:
    with gr.Tab("Compare", id="compare", elem_id="tab-compare") as tab:
        other = gr.Dropdown([(p.title, n) for n, p in PRESETS.items()], value="resnet101", allow_custom_value=True,
                            label="Compare the model above (A) with B",
                            info="a preset, or type a spec such as bottleneck:3-4-6-3:32x4d", elem_id="compare-other")
        summary = gr.Markdown(elem_id="compare-summary")
        table = gr.Dataframe(headers=list(COMPARE_COLUMNS), label="Per stage, A vs B", elem_id="compare-table",
                             interactive=False)
        with gr.Row():
            channels = gr.Plot(label="Channels along the depth", elem_id="compare-channels")
            costs = gr.Plot(label="Cost per stage", elem_id="compare-costs")
    outputs = outputs_of(Comparison, summary=summary, table=table, channels=channels, costs=costs)

    def fill(spec: str, size: float, _batch: float, _selected: str, b: str) -> Comparison:
        return compare_models(spec, size, b)

    return TabView("compare", tab, fill, outputs, [other])


def wire(page: Page, view: TabView) -> None:
    """/compare: B changed."""
    (other,) = view.inputs
    other.change(compare_models, [*page.where, other], view.outputs, api_name="compare", **events.VIEW)
