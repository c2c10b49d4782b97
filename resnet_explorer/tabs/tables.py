"""The Tables tab: stages, blocks (memory at the batch size) and memory per part."""
from __future__ import annotations

import gradio as gr

from explorer.structure.memory import MEMORY_COLUMNS
from explorer.structure.tables import BLOCK_COLUMNS, BLOCK_MEMORY_COLUMNS, STAGE_COLUMNS

from .. import events
from ..handlers.structure import Summary, Tables, summarize, tables
from . import Page, TabView, outputs_of


def build(page: Page) -> TabView:
    with gr.Tab("Tables", id="tables", elem_id="tab-tables") as tab:
        stages = gr.Dataframe(headers=list(STAGE_COLUMNS), label="Stages", elem_id="stage-table", interactive=False)
        blocks = gr.Dataframe(headers=[*BLOCK_COLUMNS, *BLOCK_MEMORY_COLUMNS], label="Blocks (memory at the batch size "
                              "above)", elem_id="block-table", interactive=False, max_height=600)
        memory = gr.Dataframe(headers=list(MEMORY_COLUMNS), label="Memory (inference peak: the most live activations "
                              "at once; training: what autograd keeps for backward)", elem_id="memory-table",
                              interactive=False)

    def fill(spec: str, size: float, batch: float, _selected: str) -> Tables:
        return tables(spec, size, batch)

    return TabView("tables", tab, fill, outputs_of(Tables, stages=stages, blocks=blocks, memory=memory),
                   selects=[blocks])


def wire(page: Page, view: TabView) -> None:
    """/summarize: the whole summary at a batch size (the totals line included)."""
    c = page.controls
    named = dict(zip(Tables._fields, view.outputs))
    c.batch.change(summarize, [c.model, c.input_size, c.batch], outputs_of(Summary, totals=page.totals, **named),
                   api_name="summarize", **events.VIEW)
