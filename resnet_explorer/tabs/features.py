"""The Feature maps tab: an image (an example or an upload), the weights (random, the hub cache, a checkpoint;
trained weights offered for download), the device and class names; then the crop, the top-5, a block's channel
grid, zoom, overlay and the across-network plot; class maps below (``cams``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from .. import events
from ..handlers import cams as hc
from ..handlers import features as h
from ..handlers.selection import echo
from ..settings import EXAMPLES, AppSettings
from . import Page, TabView, cams, outputs_of

IMAGE_TYPES = [".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"]
WEIGHT_CHOICES = [("random (seed 0)", "random"), ("torch hub cache", "hub"), ("uploaded checkpoint / --weights", "file")]
# The mean and std an image is normalised with: the model's own (CIFAR-10's for a CIFAR ResNet, ImageNet's
# otherwise), or one named where the checkpoint cannot say (some CIFAR training code uses ImageNet's)
NORMALISATION_CHOICES = [("the model's own", "own"), ("ImageNet's", "imagenet"), ("CIFAR-10's", "cifar10"),
                         ("CIFAR-100's", "cifar100")]


@dataclass
class FeaturesView(TabView):
    """The tab (``outputs``: what follows the selection, ``BlockFollow``) and what other parts of the page use:
    the run's inputs and outputs (a checkpoint runs the image too), the weights choice and the offer."""

    parts: dict[str, Any] = field(default_factory=dict)
    run_inputs: list[Any] = field(default_factory=list)
    run_outputs: list[Any] = field(default_factory=list)
    offer: list[Any] = field(default_factory=list)  # Offer order: the text and the download button
    section: cams.CamSection | None = None
    weights: gr.Radio | None = None  # the weights every real run takes (the Dataset tab's too)
    normalisation: gr.Dropdown | None = None  # and the mean and std
    channel: gr.Number | None = None  # the channel zoomed on (which opens its dataset examples)


def _inputs(settings: AppSettings) -> dict[str, Any]:
    """The image, the weights (and what trained weights there are to download), the labels and the device."""
    p = {"example": gr.Dropdown(list(EXAMPLES), value="cat", label="Example image", elem_id="fm-example"),
         "upload": gr.File(label="…or upload an image (JPEG, PNG, WebP, BMP, GIF, TIFF)", file_types=IMAGE_TYPES,
                           type="filepath", elem_id="fm-upload"),
         "weights": gr.Radio(WEIGHT_CHOICES, value="file" if settings.weights else "random", label="Weights",
                             elem_id="fm-weights"),
         "offer": gr.Markdown(elem_id="fm-offer"),  # filled with the first view (weights_offer)
         "download": gr.Button("Download trained weights", size="sm", elem_id="fm-download", interactive=False),
         "labels": gr.File(label="Class names for the predictions (.txt, one per line; default: ImageNet's for 1000 "
                                 "outputs, else class indices)", file_types=[".txt"], type="filepath",
                           elem_id="fm-labels"),
         "normalisation": gr.Dropdown(NORMALISATION_CHOICES, value="own", label="Normalisation (mean and std)",
                                      elem_id="fm-normalisation"),
         "device": gr.Radio(["auto", "cpu", "cuda", "mps"], value=settings.device, label="Device", elem_id="fm-device"),
         "run": gr.Button("Run image", variant="primary", elem_id="fm-run")}
    gr.Markdown(f"Runs a real forward pass: models whose weights and activations need more than "
                f"{settings.limits.max_model_mb:g} MiB are refused before anything is allocated "
                f"(`--max-model-mb`; the Tables tab shows each model's memory).", elem_id="fm-limits")
    return p


def _pickers() -> dict[str, Any]:
    """The block, how many channels the grid shows, and the channel zoomed on."""
    p = {}
    with gr.Row():
        p["block"] = gr.Dropdown([], label="Block", elem_id="fm-block", allow_custom_value=True)
        p["k"] = gr.Slider(1, 64, value=16, step=1, label="Channels in the grid (top-k)", elem_id="fm-k")
        p["channel"] = gr.Number(-1, precision=0, label="Zoom on channel (-1: the strongest)", elem_id="fm-channel")
    return p


def build(page: Page) -> FeaturesView:
    """The image and its settings at the left; the crop, the block's channel grid and the top-5 first, the other
    views of the block and the network under them; class maps last."""
    with gr.Tab("Feature maps", id="features", elem_id="tab-features") as tab:
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                p = _inputs(page.settings)
            with gr.Column(scale=3):
                p["notice"] = gr.Markdown(elem_id="fm-notice")
                p.update(_pickers())
                p["caption"] = gr.Markdown(elem_id="fm-caption")
                gr.Markdown("The exact crop the network sees · the block's top-k channels, each normalised to its "
                            "own range · their mean activation over the crop", elem_id="fm-images-title")
                with gr.Row():  # (labels would lie over the images' tops)
                    p["crop"] = gr.Image(label="What the network sees (the exact crop)", format="png",
                                         interactive=False, elem_id="fm-crop", height=300, scale=1, show_label=False)
                    p["grid"] = gr.Image(label="Top-k channels (each normalised to its own range)", format="png",
                                         interactive=False, elem_id="fm-grid", height=300, scale=1, show_label=False)
                    p["overlay"] = gr.Image(label="Mean activation over the input", format="png", interactive=False,
                                            elem_id="fm-overlay", height=300, scale=1, show_label=False)
                with gr.Row():
                    p["predictions"] = gr.Label(num_top_classes=5, label="Top-5 predictions (trained weights only)",
                                                elem_id="fm-predictions", scale=1)
                    p["zoom"] = gr.Plot(label="One channel", elem_id="fm-zoom", scale=2)
        p["network"] = gr.Plot(label="Across the network", elem_id="fm-network")
        section = cams.build()
    c = page.controls
    run_inputs = [c.model, p["upload"], p["example"], p["weights"], c.checkpoint, p["device"], p["block"], p["k"],
                  p["labels"], p["normalisation"]]
    views = {name: p[name] for name in h.BlockViews._fields}
    run_outputs = outputs_of(h.FeatureRun, capture_id=page.capture_id, notice=p["notice"], crop=p["crop"],
                             block=p["block"], predictions=p["predictions"], **views)
    follow = outputs_of(h.BlockFollow, block=p["block"], **views)

    def fill(_spec: str, _size: float, _batch: float, selected: str, cid: str, k: float, channel: float) -> tuple:
        return h.follow_block(cid, selected, k, channel)

    return FeaturesView("features", tab, fill, follow, [page.capture_id, p["k"], p["channel"]], parts=p,
                        run_inputs=run_inputs, run_outputs=run_outputs, offer=[p["offer"], p["download"]],
                        section=section, weights=p["weights"], normalisation=p["normalisation"],
                        channel=p["channel"])


def wire(page: Page, view: FeaturesView) -> None:
    """/features on any input; /download_weights then a run; /block_view; the first opening runs the default
    example; the selected block moves the views (and the class maps) to it; a block picked here is selected."""
    p, cid, s = view.parts, page.capture_id, view.section
    run = gr.on([p["run"].click, p["upload"].change, p["example"].change, p["weights"].change, p["device"].change,
                 p["labels"].change, p["normalisation"].input], h.features, view.run_inputs, view.run_outputs, api_name="features", **events.RUN)
    p["download"].click(h.download_trained, page.controls.model,
                        outputs_of(h.Downloaded, offer=p["offer"], button=p["download"], weights=p["weights"]),
                        api_name="download_weights", **events.DOWNLOAD) \
        .success(h.features, view.run_inputs, view.run_outputs, **events.private(**events.RUN))
    views = [p[name] for name in h.BlockViews._fields]
    gr.on([p["block"].input, p["k"].change, p["channel"].submit], h.block_view, [cid, p["block"], p["k"], p["channel"]],
          views, api_name="block_view", **events.VIEW)
    view.tab.select(h.features_on_open, [cid, *view.run_inputs], view.run_outputs,
                    **events.private(**events.RUN, show_progress="minimal")) \
        .success(hc.target_choices, p["predictions"], s.target, **events.PRIVATE)
    run.success(hc.target_choices, p["predictions"], s.target, api_name="target_choices", **events.PRIVATE)
    cams.wire(s, cid, p["block"], p["labels"])
    selected = page.inspector.selected
    selected.change(h.follow_block, [cid, selected, p["k"], p["channel"], page.active], view.outputs,
                    api_name="follow_block", **events.private(**events.VIEW)) \
        .then(hc.cam_follow, [cid, selected, s.method, s.opacity, p["labels"], page.active], s.outputs,
              **events.private(**events.WORK))
    p["block"].input(echo, p["block"], selected, api_name="select_feature_block", **events.INSTANT)
