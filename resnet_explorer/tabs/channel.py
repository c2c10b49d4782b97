"""The Channel pictures tab (Microscope's unit page): a block and a channel; the picture the channel wants (MACO or Fourier)
with its check, the channel over the current image, its dataset examples. Reached from a tile of the Feature maps
grid, a row or number of the Dataset tab, and the inspector's "Channel page" button."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from .. import events
from ..handlers import channel as h
from . import Page, TabView, outputs_of

METHOD_CHOICES = [("MACO", "maco"), ("Fourier (Lucid)", "fourier")]  # (MACO: phase only, a natural spectrum)


@dataclass
class ChannelView(TabView):
    parts: dict[str, Any] = field(default_factory=dict)
    block: gr.Dropdown | None = None
    channel: gr.Number | None = None


def build(page: Page) -> ChannelView:
    p: dict[str, Any] = {}
    with gr.Tab("Channel pictures", id="channel", elem_id="tab-channel") as tab:
        with gr.Row():
            p["block"] = gr.Dropdown([], value=None, label="Block", elem_id="ch-block", allow_custom_value=True)
            p["channel"] = gr.Number(None, precision=0, label="Channel", elem_id="ch-channel", min_width=100)
            p["method"] = gr.Dropdown(METHOD_CHOICES, value="maco", label="Picture", elem_id="ch-method")
            p["steps"] = gr.Slider(8, 1024, value=128, step=8, label="Steps", elem_id="ch-steps")
            p["size"] = gr.Slider(32, 256, value=128, step=16, label="Size (px)", elem_id="ch-size")
            with gr.Column(min_width=160, scale=0):
                p["go"] = gr.Button("Draw its picture", variant="primary", size="sm", elem_id="ch-go")
                p["stop"] = gr.Button("Stop", size="sm", elem_id="ch-stop")
        p["title"] = gr.Markdown("Pick a channel: click a tile of the Feature maps grid, a row of the Dataset tab's "
                                 "channels, or type a block and a channel above.", elem_id="ch-title")
        p["check"] = gr.Markdown(elem_id="ch-check")  # (over the pictures: read with them on the first screen)
        with gr.Row():
            p["picture"] = gr.Image(label="The picture the channel wants", format="png", interactive=False,
                                    height=260, elem_id="ch-picture", scale=1, min_width=260)
            p["map"] = gr.Image(label="The channel over the current image (Feature maps)", format="png",
                                interactive=False, height=260, elem_id="ch-map", scale=1, min_width=260)
            with gr.Column(scale=2, min_width=320):
                p["examples"] = gr.Gallery(label="Dataset examples", columns=4, height=260, format="png",
                                           elem_id="ch-examples")
                p["caption"] = gr.Markdown(elem_id="ch-caption")
    view = outputs_of(h.ChannelPage, title=p["title"], picture=p["picture"], check=p["check"], map=p["map"],
                      examples=p["examples"], caption=p["caption"])
    return ChannelView("channel", tab, lambda *_a: tuple(gr.skip() for _ in view), view, parts=p, block=p["block"],
                       channel=p["channel"])


def inputs(page: Page, view: ChannelView, features: Any, dataset: Any) -> list[Any]:
    """What both events take: the model and weights (the Feature maps tab's), the channel and the settings, the
    current image and the open dataset run."""
    p, f = view.parts, features.parts
    return [page.controls.model, page.controls.checkpoint, f["weights"], f["device"], f["normalisation"], p["block"],
            p["channel"], p["method"], p["steps"], p["size"], page.capture_id, dataset.run_id]


def wire(page: Page, view: ChannelView, features: Any, dataset: Any) -> None:
    """/channel_page (the page, no optimisation), /channel_visualize (the picture), the stop; a grid tile, a
    dataset row or number, and the inspector open it."""
    p, args = view.parts, inputs(page, view, features, dataset)
    gr.on([p["channel"].submit, p["block"].input], h.channel_page, args, view.outputs, api_name="channel_page",
          **events.VIEW)
    show = dict(fn=h.channel_page, inputs=args, outputs=view.outputs, **events.private(**events.VIEW))
    p["go"].click(h.channel_visualize, args, view.outputs, api_name="channel_visualize", **events.RUN)
    p["stop"].click(h.channel_stop, None, None, api_name="channel_stop", **events.INSTANT)
    f = features.parts
    f["grid"].select(h.pick_in_grid, [page.capture_id, f["block"], f["k"]],
                     outputs_of(h.GridPick, zoom=f["channel"], tabs=page.tabs, block=p["block"], channel=p["channel"]),
                     api_name="pick_in_grid", **events.INSTANT).success(**show)
    opened = outputs_of(h.Opened, tabs=page.tabs, block=p["block"], channel=p["channel"])
    for button, channel in ((page.inspector.channel_page, p["channel"]), (dataset.to_channel, dataset.channel)):
        button.click(h.open_channel, [page.inspector.selected if button is page.inspector.channel_page
                                      else dataset.parts["block"], channel], opened,
                     api_name=f"open_channel_from_{'inspector' if button is page.inspector.channel_page else 'dataset'}",
                     **events.INSTANT).success(**show)
    page.controls.model.change(h.channel_cleared, None, view.outputs, api_name="channel_cleared", **events.INSTANT)
