"""The class-map section of the Feature maps tab: method, class and opacity; the overlay, the raw map and the
last block of each stage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from explorer.features.methods import METHODS

from .. import events
from ..handlers import cams as h
from . import outputs_of


@dataclass
class CamSection:
    method: gr.Radio
    target: gr.Dropdown
    opacity: gr.Slider
    button: gr.Button
    outputs: list[Any]  # CamViews order


def build() -> CamSection:
    gr.Markdown("## Why did it predict that? Class activation maps at every block", elem_id="cam-title")
    with gr.Row():
        method = gr.Radio([(name, name) for name in METHODS], value="gradcam", label="Method", elem_id="cam-method",
                          info=" · ".join(f"{k}: {v.split(':', 1)[1].split(';')[0].strip()}"
                                          for k, v in METHODS.items()))
        target = gr.Dropdown([], value=None, allow_custom_value=True, label="Class (default: the top-1; a name or "
                             "an index)", elem_id="cam-target")
        opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="Opacity", elem_id="cam-opacity")
        button = gr.Button("Compute class maps", variant="secondary", elem_id="cam-run")
    caption = gr.Markdown(elem_id="cam-caption")
    with gr.Row():
        overlay = gr.Image(label="Over the crop the network saw (upsampled)", format="png", interactive=False,
                           elem_id="cam-overlay")
        raw = gr.Plot(label="At the block's own resolution", elem_id="cam-raw")
    strip = gr.Image(label="The last block of each stage: localisation with depth", format="png",
                     interactive=False, elem_id="cam-strip")
    return CamSection(method, target, opacity, button,
                      outputs_of(h.CamViews, overlay=overlay, raw=raw, strip=strip, caption=caption))


def wire(section: CamSection, capture_id: gr.State, block: gr.Dropdown, labels: gr.File) -> None:
    """/cam on the button; /cam_view for another block, method or opacity (no new pass); /cam_target for
    another class (one backward pass)."""
    s = section
    s.button.click(h.compute_cams, [capture_id, block, s.target, s.method, s.opacity, labels], s.outputs,
                   api_name="cam", **events.RUN)
    gr.on([block.input, s.method.change, s.opacity.release], h.cam_view, [capture_id, block, s.method, s.opacity, labels],
          s.outputs, api_name="cam_view", **events.VIEW)
    gr.on([s.target.input], h.cam_target, [capture_id, block, s.target, s.method, s.opacity, labels], s.outputs,
          api_name="cam_target", **events.RUN)
