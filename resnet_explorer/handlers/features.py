"""Feature maps: an image through the model (one forward pass capturing every block), then any block's views
from the kept capture without a new pass; and the trained weights a preset has, downloaded on request."""
from __future__ import annotations

import re
import uuid
from typing import Any, NamedTuple

import gradio as gr
from PIL import Image, PngImagePlugin

from explorer.files import fresh_folder
from explorer.models import OWN_WEIGHTS, parse_model
from explorer.tracing.records import format_shape
from resnet import PRESETS, ResNetConfig, WeightsInfo

from .. import lib
from ..context import APP
from ..refusals import Refusal, titled
from ..settings import EXAMPLES, OUTPUT_ROOT
from .checks import capped, model_config, skipped, whole


class BlockViews(NamedTuple):
    """One block of a kept capture: the top-k grid, its caption, the zoomed channel, the overlay, and the
    across-network plot marking the block."""

    grid: str
    caption: str
    zoom: Any
    overlay: str
    network: Any


class BlockFollow(NamedTuple):
    """The feature-map views following the selected block: the picker, then the block's views."""

    block: Any
    grid: Any
    caption: Any
    zoom: Any
    overlay: Any
    network: Any


class FeatureRun(NamedTuple):
    """An image run: its id, what ran, the crop, the block picker, the block's views and the top-5."""

    capture_id: Any
    notice: Any
    crop: Any
    block: Any
    grid: Any
    caption: Any
    zoom: Any
    overlay: Any
    network: Any
    predictions: Any


class Offer(NamedTuple):
    """The trained weights the model has, and whether the download button has anything to do."""

    text: str
    button: Any


class Downloaded(NamedTuple):
    offer: str
    button: Any
    weights: str  # the weights choice: the torch hub cache, where they now are


def png_file(image: Any, name: str, run: str) -> str:
    """Write an image as PNG tagged with its run id. Identical images from concurrent runs would otherwise
    share one path in Gradio's content-addressed cache, and one request could read it mid-copy."""
    info = PngImagePlugin.PngInfo()
    info.add_text("resnet-explorer-run", f"{run}-{uuid.uuid4().hex}")
    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    path = fresh_folder(OUTPUT_ROOT) / f"{name}.png"
    img.save(path, pnginfo=info, compress_level=lib.PNG_LEVEL)
    APP.tidy_disk()
    return str(path)


def block_views(cid: str, block: str, k: float, channel: float) -> BlockViews:
    """One block's views of a stored capture (no forward pass)."""
    cap = APP.store.capture(cid)
    capped("a block name", block)
    if block not in cap.maps:
        raise Refusal(f"no block named {block!r} in this run; pick one of {', '.join(list(cap.maps)[:3])}, ...",
                      "Unknown block")
    grid, channels = lib.channel_grid(cap, block, whole("k", k))
    ch = whole("channel", channel)
    try:
        zoom = lib.channel_zoom_figure(cap, block, channels[0] if ch < 0 else ch)
    except ValueError as exc:
        raise Refusal(str(exc), "Invalid channel") from None
    st = cap.stats(block)
    prefix = re.sub(r"[^\w.-]+", "_", f"{cap.model_name}_{block}")  # file-name-safe, like ResNetConfig.slug
    caption = (f"**{block}** — top {len(channels)} of {st.channels} channels by mean activation "
               f"(row by row, strongest first): {', '.join(map(str, channels))}.  \n"
               f"zeros {st.zero_fraction:.1%} · dead channels {st.dead_channels} · mean {st.mean:.3g} ± {st.std:.3g} · "
               f"‖F(x)‖/‖shortcut‖ = {st.residual_ratio:.3g}" + (" · projection shortcut" if st.projection else ""))
    return BlockViews(png_file(grid, f"{prefix}_top{len(channels)}", cid), caption, zoom,
                      png_file(lib.overlay(cap, block), f"{prefix}_overlay", cid), lib.network_figure(cap, block))


def block_view(cid: str, block: str, k: float, channel: float) -> BlockViews:
    """Switch block, k or channel on the last run."""
    if not cid:
        raise Refusal("run an image first", "No image yet")
    return block_views(cid, block, k, channel)


def follow_block(cid: str, name: str, k: float, channel: float, active: str = "features") -> BlockFollow:
    """The feature-map views at the selected block, when an image of this model has been run (and the tab is
    open; opening it follows the selection)."""
    if active != "features" or not cid:
        return skipped(BlockFollow)
    try:
        cap = APP.store.capture(cid)
    except lib.Expired:
        return skipped(BlockFollow)
    if name not in cap.maps:
        return skipped(BlockFollow)
    return BlockFollow(gr.update(value=name), *block_views(cid, name, k, channel))


@titled("Cannot run the image")
def features(spec: str, upload: str | None, example: str, weights: str, checkpoint: str | None, device: str,
             block: str, k: float, labels: str | None = None, normalisation: str = "own",
             progress: gr.Progress = gr.Progress()) -> FeatureRun:
    """Image -> crop -> one forward pass capturing every block -> ``block``'s views and the across-network plot.
    Predictions are named by ``labels`` (a text file, one class per line), the model's own names (CIFAR-10's for
    a 10-class CIFAR ResNet), ImageNet's for 1000 outputs, else class indices. ``normalisation``: the model's own
    mean and std, or a dataset's (``imagenet``, ``cifar10``, ``cifar100``)."""
    progress(0.05, desc="checking the model")
    config = model_config(spec)
    image = upload or (EXAMPLES.get(example) if example else None)
    if image is None:
        raise Refusal(f"pick an example ({', '.join(EXAMPLES)}) or upload an image", "No image")
    progress(0.2, desc="loading the model and the image, running every block")
    settings = APP.settings
    pre = None
    if normalisation and normalisation != "own":
        loaded = APP.store.model(config, weights, checkpoint or settings.weights, device or settings.device)
        pre = _normalised(loaded.preprocess, normalisation)
    cid, cap, loaded = APP.store.run_image(config, image, weights, checkpoint or settings.weights,
                                           device or settings.device, pre)
    progress(0.8, desc="drawing the views")
    chosen = block if block in cap.maps else lib.default_block(cap)
    views = block_views(cid, chosen, k, -1)
    notice = [f"Ran on **{cap.device}** · weights: {loaded.weights_label}", *cap.notices]
    try:
        predictions = lib.top5(cap, lib.read_labels(labels) or lib.own_classes(config)) if loaded.trained else {}
    except ValueError as exc:
        predictions, notice = {}, [*notice, str(exc)]
    choices = [(f"{b.name} · {format_shape(cap.maps[b.name].shape)}"
                f"{' · ' + ('option A' if b.shortcut_tag == 'option A' else 'projection') if b.projection else ''}", b.name)
               for b in cap.blocks]
    return FeatureRun(cid, "  \n".join(notice), png_file(cap.crop, "crop", cid), gr.update(choices=choices, value=chosen),
                      *views, predictions)


def _normalised(pre: Any, name: str) -> Any:
    try:
        return pre.normalised(name)
    except ValueError as exc:
        raise Refusal(str(exc), "Invalid normalisation") from None


def features_on_open(cid: str, *inputs: Any) -> FeatureRun:
    """The first time the Feature maps tab opens, run what its controls show; later, keep what is there."""
    return skipped(FeatureRun) if cid else features(*inputs)


def _offer(spec: str) -> tuple[WeightsInfo | None, bool, str]:
    """The best published weights of the model, if it is a preset, whether they are cached, and a line saying so."""
    try:
        config = parse_model(spec)
    except ValueError:
        return None, False, ""
    preset = config.preset if isinstance(config, ResNetConfig) else None
    info = PRESETS[preset].best_weights() if preset else None
    if isinstance(config, OWN_WEIGHTS):
        return None, False, f"Weights: the {'file' if config.kind != 'module' else 'module'}'s own ({config.name})."
    if info is None:
        return None, False, "No published ImageNet weights for this model (open a checkpoint of your own above)."
    cached = lib.find_cached(info.arch, info.tag) is not None
    return info, cached, (f"Trained weights: **{info.arch} {info.tag}** · {lib.state_size(info.arch) / 2**20:.0f} MiB · "
                          f"ImageNet top-1 {info.acc1:.1f}% · " + ("in the torch hub cache" if cached else "not downloaded"))


def weights_offer(spec: str) -> Offer:
    info, cached, text = _offer(spec)
    return Offer(text, gr.update(interactive=info is not None and not cached))


def download_trained(spec: str, progress: gr.Progress = gr.Progress()) -> Downloaded:
    """Download the model's best published weights (only when the user presses the button), then use them."""
    info, _, _ = _offer(spec)
    if info is None:
        raise Refusal("this model has no published ImageNet weights", "Nothing to download")

    def report(done: int, total: int | None) -> None:
        progress(done / total if total else 0.0, desc=f"{info.filename}: {done / 2**20:.0f} MiB")

    lib.download(info, progress=report)
    return Downloaded(*weights_offer(spec), "hub")
