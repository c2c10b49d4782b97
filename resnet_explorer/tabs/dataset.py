"""The Dataset tab: a run over images uploaded here (files or a .zip) or a folder the server offers, or a finished
run opened; a block's channels as a table (sortable) and a plot, and a channel's top images as dataset
examples."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from explorer.dataset.views import CHANNEL_COLUMNS

from .. import events
from ..handlers import dataset as h
from . import Page, TabView, outputs_of
from .features import IMAGE_TYPES


@dataclass
class DatasetTabView(TabView):
    parts: dict[str, Any] = field(default_factory=dict)  # every component, for this module's own wiring
    view: list[Any] = field(default_factory=list)  # DatasetView order
    shown: Any = None  # the channel's examples' components, as an Examples record
    # what other parts of the page wire to (/dataset_run takes the Feature maps tab's weights; a channel zoomed
    # there opens its examples here)
    run: gr.Button | None = None
    uploads: gr.File | None = None
    folder: gr.Dropdown | None = None
    top_k: gr.Slider | None = None
    lesion: gr.Checkbox | None = None
    remove_k: gr.Number | None = None
    resize: gr.Number | None = None
    crop: gr.Number | None = None
    run_id: gr.State | None = None
    channel: gr.Number | None = None
    to_channel: gr.Button | None = None  # opens the Channel pictures tab on this channel


def _inputs(p: dict[str, Any]) -> None:
    """The images (uploaded, or a folder the server offers), the run's settings, or a finished run to open."""
    gr.Markdown("What every channel of the model above responds to across many images, and what removing each "
                "block costs. The weights are the Feature maps tab's.", elem_id="ds-intro")
    p["upload"] = gr.File(label="Images (many files, or one .zip; one subfolder per class gives labels)",
                          file_count="multiple", file_types=[*IMAGE_TYPES, ".zip"], type="filepath",
                          elem_id="ds-upload")
    folders = h.server_folders()
    p["folder"] = gr.Dropdown(folders, value=None, label="…or a folder the server offers", elem_id="ds-folder",
                              visible=bool(folders))
    p["top_k"] = gr.Slider(1, 64, value=9, step=1, label="Top images per channel", elem_id="ds-top-k")
    with gr.Row():
        p["lesion"] = gr.Checkbox(False, label="Lesion every block", elem_id="ds-lesion",
                                  info="remove each block in turn (Veit et al. 2016)")
        p["remove_k"] = gr.Number(0, precision=0, minimum=0, maximum=64, label="…and k at once, up to",
                                  elem_id="ds-remove-k")
    with gr.Row():
        p["resize"] = gr.Number(0, precision=0, minimum=0, label="Resize (px; 0: the weights')", elem_id="ds-resize",
                                info="the shorter side, before the crop")
        p["crop"] = gr.Number(0, precision=0, minimum=0, label="Crop (px; 0: the weights')", elem_id="ds-crop",
                              info="the centre square the model sees")
    p["run"] = gr.Button("Run over the images", variant="primary", elem_id="ds-run")
    p["results"] = gr.Dropdown(h.saved_runs(), value=None, label="…or open a finished run", elem_id="ds-results",
                               allow_custom_value=True)
    p["archive"] = gr.File(label="…or a run's files as a .zip", file_types=[".zip"], type="filepath",
                           elem_id="ds-archive")
    p["open"] = gr.Button("Open", size="sm", elem_id="ds-open")


def _results(p: dict[str, Any]) -> None:
    """A run's summary, a block's channels (table and plot), a channel's dataset examples, the lesion charts."""
    p["summary"] = gr.Markdown("Run the model over a folder of images (at the left) to see its channels here.",
                               elem_id="ds-summary")
    p["block"] = gr.Dropdown([], value=None, label="Block", elem_id="ds-block", allow_custom_value=True)
    with gr.Row():
        p["channels"] = gr.Dataframe(headers=list(CHANNEL_COLUMNS), label="Channels (click a header to sort, a row "
                                     "to see its images)", elem_id="ds-channels", interactive=False, max_height=420)
        p["plot"] = gr.Plot(label="Mean against active fraction", elem_id="ds-plot")
    with gr.Row():
        p["channel"] = gr.Number(None, precision=0, label="Channel", elem_id="ds-channel", scale=0, min_width=120)
        p["to_channel"] = gr.Button("Its picture ›", size="sm", elem_id="ds-to-channel", scale=0, min_width=120)
        p["caption"] = gr.Markdown(elem_id="ds-caption")
    p["examples"] = gr.Gallery(label="Dataset examples: the top images, each cropped around the channel's maximum",
                               columns=6, height=420, format="png", elem_id="ds-examples")
    p["lesion_plot"] = gr.Plot(label="Each block removed", elem_id="ds-lesion-plot", visible=False)
    p["k_plot"] = gr.Plot(label="k blocks removed; paths", elem_id="ds-k-plot", visible=False)


def build(page: Page) -> DatasetTabView:
    p: dict[str, Any] = {}
    with gr.Tab("Dataset", id="dataset", elem_id="tab-dataset") as tab:
        # (inside the tab: a State made in the Tabs but outside any Tab draws this tab's label twice, Gradio 6.31)
        p["run_id"] = gr.State("")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                _inputs(p)
            with gr.Column(scale=3):
                _results(p)
    view = outputs_of(h.DatasetView, run_id=p["run_id"], summary=p["summary"], block=p["block"],
                      channels=p["channels"], plot=p["plot"], examples=p["examples"], caption=p["caption"],
                      lesion=p["lesion_plot"], lesion_k=p["k_plot"])
    shown = h.Examples(plot=p["plot"], examples=p["examples"], caption=p["caption"])  # the components, by name

    def fill(_spec: str, _size: float, _batch: float, selected: str, run_id: str) -> tuple:
        return h.dataset_follow(run_id, selected)

    return DatasetTabView("dataset", tab, fill, view, [p["run_id"]], parts=p, view=view, shown=shown, run=p["run"],
                          uploads=p["upload"], folder=p["folder"], top_k=p["top_k"], lesion=p["lesion"],
                          remove_k=p["remove_k"], resize=p["resize"], crop=p["crop"], run_id=p["run_id"],
                          channel=p["channel"], to_channel=p["to_channel"])


def wire(page: Page, view: DatasetTabView) -> None:
    """/dataset_open for a finished run, /dataset_block, /dataset_channel (a row, or a number); the run itself
    (/dataset_run) takes the Feature maps tab's weights: ``resnet_explorer.wiring``."""
    p = view.parts
    p["open"].click(h.dataset_open, [p["results"], p["archive"]], view.view, api_name="dataset_open", **events.VIEW)
    p["results"].focus(h.run_choices, None, p["results"], api_name="dataset_runs", **events.PRIVATE)
    p["block"].input(h.dataset_block, [p["run_id"], p["block"]], view.view, api_name="dataset_block", **events.VIEW)
    p["channel"].submit(h.dataset_channel, [p["run_id"], p["block"], p["channel"]], list(view.shown),
                        api_name="dataset_channel", **events.VIEW)
    p["channels"].select(h.channel_row, [p["run_id"], p["block"]],
                         outputs_of(h.RowPicked, channel=p["channel"], **view.shown._asdict()),
                         api_name="dataset_row", **events.private(**events.VIEW))
    page.inspector.selected.change(h.dataset_follow, [p["run_id"], page.inspector.selected, page.active], view.view,
                                   api_name="dataset_follow", **events.private(**events.VIEW))
