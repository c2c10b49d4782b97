"""Class activation maps of the image run above: computed once (one forward, one backward pass), then redrawn
for another block, method or opacity without a pass, and for another class with one backward pass."""
from __future__ import annotations

import re
from typing import Any, NamedTuple

import gradio as gr
import numpy as np

from explorer.features.methods import GRADIENT_FREE, METHODS

from .. import lib
from ..context import APP
from ..refusals import Refusal, titled
from .checks import skipped
from .features import png_file


class CamViews(NamedTuple):
    overlay: str  # over the crop the network saw
    raw: Any  # at the block's own resolution
    strip: str  # the last block of each stage
    caption: str


@titled("Invalid class-map options")
def cam_views(cid: str, block: str, method: str, opacity: float, labels: str | None) -> CamViews:
    """The kept class-map run drawn at ``block`` with ``method`` (no forward or backward pass)."""
    run, cap = APP.store.cam_run(cid), APP.store.capture(cid)
    names = _names(cap, len(run.logits), labels)
    chosen = run.check_block(block) if block else run.blocks[-1]
    over = lib.cam_overlay(run, cap.crop, chosen, method, float(opacity))
    strip = lib.cam_strip(run, cap.crop, method, float(opacity))
    figure = lib.cam_figure(run, chosen, method, names[run.target])
    notice = "" if cap.notices[:1] != [lib.RANDOM_NOTICE] else f"**{lib.RANDOM_CAM_NOTICE}**  \n"
    caption = (f"{notice}**{method}** at **{chosen}** for **{names[run.target]}** (class {run.target}) — "
               f"{METHODS[method]}" + (" Same for every class." if method in GRADIENT_FREE else ""))
    prefix = re.sub(r"[^\w.-]+", "_", f"{run.model_name}_{chosen}_{method}_{run.target}")
    return CamViews(png_file(over, f"{prefix}_cam", cid), figure, png_file(strip, f"{prefix}_stages", cid), caption)


def _names(cap: Any, classes: int, labels: str | None) -> list[str]:
    """The classes' names as the image run named them: the labels file, else the model's own (a Hugging Face
    folder's, those given to ``explorer.show``), else ImageNet's for 1000 outputs, else indices."""
    model = cap.request[0] if getattr(cap, "request", None) else None
    return lib.label_names(classes, lib.read_labels(labels) or (lib.own_classes(model) if model else None))


def cam_follow(cid: str, block: str, method: str, opacity: float, labels: str | None = None,
               active: str = "features") -> CamViews:
    """The class maps at the selected block, when maps have been computed for this run (else unchanged)."""
    if active != "features":
        return skipped(CamViews)
    try:
        APP.store.cam_run(cid)
    except lib.Expired:
        return skipped(CamViews)
    return cam_views(cid, block, method, opacity, labels)


def target_choices(predictions: Any) -> Any:
    """The class picker offers the top-5 of the last run (any other name or index can be typed)."""
    found = predictions.get("confidences", []) if isinstance(predictions, dict) else []
    return gr.update(choices=[c["label"] for c in found if "label" in c], value=None)


@titled("Cannot compute class maps")
def compute_cams(cid: str, block: str, target: str, method: str, opacity: float, labels: str | None = None,
                 progress: gr.Progress = gr.Progress()) -> CamViews:
    """Class maps at every block for the image run above: one forward and one backward pass."""
    if not cid:
        raise Refusal("run an image first", "No image yet")
    lib.check_method(method)
    cap = APP.store.capture(cid)
    wanted = lib.parse_target(target, _names(cap, len(cap.logits), labels))
    progress(0.2, desc="one forward and one backward pass through every block")
    APP.store.cam(cid, wanted)
    return cam_views(cid, block, method, opacity, labels)


@titled("Invalid class-map options")
def cam_view(cid: str, block: str, method: str, opacity: float, labels: str | None = None) -> CamViews:
    """Another block, method or opacity for the kept run: no new pass."""
    if not cid:
        raise Refusal("run an image first", "No image yet")
    return cam_views(cid, block, method, opacity, labels)


@titled("Invalid class")
def cam_target(cid: str, block: str, target: str, method: str, opacity: float,
               labels: str | None = None) -> CamViews:
    """Another class: one backward pass through the kept graph (no forward); a new run where none is kept."""
    try:
        run = APP.store.cam_run(cid)
    except lib.Expired:
        return compute_cams(cid, block, target, method, opacity, labels)
    wanted = lib.parse_target(target, lib.label_names(len(run.logits), lib.read_labels(labels)))
    try:
        run.retarget(int(np.argmax(run.logits)) if wanted is None else wanted)
    except ValueError as exc:
        if "kept no graph" not in str(exc):
            raise
        return compute_cams(cid, block, target, method, opacity, labels)
    return cam_views(cid, block, method, opacity, labels)
