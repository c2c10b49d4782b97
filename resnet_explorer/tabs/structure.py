"""The Channels & structure tab: the channel hourglass, resolution against channels, cost and memory per part,
and the analytics tables."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from explorer.structure.analysis import BLOCK_ANALYTICS_COLUMNS, STAGE_STATS_COLUMNS

from .. import events
from ..handlers.structure import StructureViews, channels_highlight, structure
from . import Page, TabView, outputs_of


@dataclass
class StructureTab(TabView):
    channels: gr.Plot | None = None  # the plot that marks the selected block


def build(page: Page) -> StructureTab:
    with gr.Tab("Channels & structure", id="structure", elem_id="tab-structure") as tab:
        channels = gr.Plot(label="Channels per block", elem_id="channel-plot")
        with gr.Row():
            transitions = gr.Plot(label="Resolution vs channels", elem_id="transition-plot")
            costs = gr.Plot(label="Cost per stage", elem_id="cost-plot")
        with gr.Row():
            memory = gr.Plot(label="Memory per part", elem_id="memory-plot")
            stage_stats = gr.Dataframe(headers=list(STAGE_STATS_COLUMNS), label="Per stage (receptive field in px)",
                                       elem_id="stats-table", interactive=False)
        block_analytics = gr.Dataframe(headers=list(BLOCK_ANALYTICS_COLUMNS), label="Per block",
                                       elem_id="analytics-table", interactive=False, max_height=500)
    outputs = outputs_of(StructureViews, channels=channels, transitions=transitions, costs=costs, memory=memory,
                         stage_stats=stage_stats, block_analytics=block_analytics)
    return StructureTab("structure", tab, structure, outputs, selects=[block_analytics], channels=channels)


def wire(page: Page, view: StructureTab) -> None:
    """/structure at a batch size; the channel plot marks the selected block."""
    c, selected = page.controls, page.inspector.selected
    c.batch.change(structure, [c.model, c.input_size, c.batch, selected], view.outputs, api_name="structure",
                   **events.VIEW)
    selected.change(channels_highlight, [c.model, c.input_size, selected, page.active], view.channels,
                    api_name="channels_highlight", **events.private(**events.VIEW))
