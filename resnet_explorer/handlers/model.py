"""Which model the page shows: the controls' spec, a typed spec, a timm pick, an opened checkpoint."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import gradio as gr

import shutil
from pathlib import Path

from explorer.files import fresh_folder
from explorer.models import open_checkpoint, timm_architectures
from explorer.sources import HF_FILES, SUFFIXES, open_model_file
from resnet import ResNetConfig, get_preset, parse_spec
from resnet.presets import preset_of

from ..context import APP
from ..refusals import Refusal, titled
from ..settings import OUTPUT_ROOT
from .checks import model_config, skipped, whole

MODES = ("Preset", "Custom")


class Spec(NamedTuple):
    """A model applied: the spec box shows it, the hidden model field carries it to every view."""

    spec_box: str
    model: str


class CustomFields(NamedTuple):
    """The custom controls: block type, blocks per stage, width per group, groups, stride placement."""

    block_type: Any
    layer1: Any
    layer2: Any
    layer3: Any
    layer4: Any
    width: Any
    groups: Any
    stride_in: Any


class AppliedSpec(NamedTuple):
    """A typed spec: its canonical form, applied, and the controls set to show it."""

    spec_box: Any
    model: Any
    mode: Any
    preset: Any
    block_type: Any
    layer1: Any
    layer2: Any
    layer3: Any
    layer4: Any
    width: Any
    groups: Any
    stride_in: Any


class OpenedModel(NamedTuple):
    """A checkpoint opened: its model applied, its weights chosen, and [spec, notice] kept for the notice."""

    spec_box: str
    model: str
    weights: str
    opened: list[str]


@titled("Invalid configuration")
def spec_from_controls(mode: str, preset: str, block_type: str, l1: float, l2: float, l3: float, l4: float,
                       width_per_group: float, groups: float, stride_in: str, current: str) -> Spec:
    """The spec the controls describe. Options the controls do not show (dilation, classes, zero-init) carry
    over from the current spec."""
    try:
        kept = parse_spec(current)
    except ValueError:
        kept = ResNetConfig()
    if mode == "Preset":
        base = replace(get_preset(preset), stride_in=kept.stride_in)
    elif mode == "Custom":
        layers = tuple(whole(f"blocks in layer{i}", v) for i, v in enumerate((l1, l2, l3, l4), start=1))
        base = ResNetConfig(block=block_type, layers=layers, width_per_group=whole("width per group", width_per_group),
                            groups=whole("groups", groups), stride_in=stride_in)
    else:
        raise Refusal(f"mode must be one of {list(MODES)}, got {mode!r}", "Invalid configuration")
    dilation = kept.replace_stride_with_dilation if base.block == "bottleneck" else (False, False, False)
    config = replace(base, replace_stride_with_dilation=dilation, num_classes=kept.num_classes,
                     zero_init_residual=kept.zero_init_residual)
    APP.settings.limits.check_depths(config.layers)
    return Spec(config.spec, config.spec)


def apply_spec(text: str) -> AppliedSpec:
    """A typed spec applied, and the controls set to show it (a timm model leaves them as they are)."""
    config = model_config(text)
    if not isinstance(config, ResNetConfig):
        return skipped(AppliedSpec)._replace(spec_box=config.spec, model=config.spec)
    preset = preset_of(config)  # same block, depths and widths; the other options show in the spec
    return AppliedSpec(config.spec, config.spec, "Preset" if preset else "Custom",
                       preset.name if preset else gr.update(), config.block, *config.layers, config.width_per_group,
                       config.groups, config.stride_in)


def pick_timm(name: str | None) -> AppliedSpec:
    """A timm architecture picked (or typed); leaving the picker empty changes nothing."""
    return apply_spec(f"timm:{name}") if name else skipped(AppliedSpec)


def timm_choices() -> Any:
    """timm's architectures, listed when the picker is first opened (importing timm takes ~1.7 s)."""
    return gr.update(choices=list(timm_architectures()))


@titled("Cannot open this checkpoint")
def open_checkpoint_file(path: str | None) -> OpenedModel:
    """An uploaded file switches the whole UI to the model it holds, with its weights: a checkpoint (its
    architecture inferred from the tensors), an ONNX graph, a torch.export program, a zipped Hugging Face
    folder."""
    if not path:
        raise Refusal("choose a checkpoint file", "No checkpoint")
    limit = APP.settings.limits.checkpoint_bytes
    if Path(path).suffix.lower() in SUFFIXES:
        model = open_model_file(path, limit, limits=APP.settings.limits)
        return _opened(model.spec, f"from {model.title}")
    opened = open_checkpoint(path, max_bytes=limit, max_keys=APP.settings.limits.max_checkpoint_keys)
    return _opened(opened.model.spec, opened.notice)


@titled("Cannot open this model folder")
def open_model_folder(paths: list[str] | None) -> OpenedModel:
    """A Hugging Face folder uploaded as its files (config.json and model.safetensors at once)."""
    files = [Path(p) for p in paths or []]
    names = {f.name for f in files}
    if not {"config.json", "model.safetensors"} <= names:
        raise Refusal("choose a Hugging Face model's config.json and model.safetensors together", "Missing files")
    folder = fresh_folder(OUTPUT_ROOT)  # the files under their own names, in a folder the server picks
    for f in files:
        if f.name in HF_FILES:
            shutil.copyfile(f, folder / f.name)
    model = open_model_file(folder, APP.settings.limits.checkpoint_bytes, display_name="model folder",
                            limits=APP.settings.limits)
    return _opened(model.spec, f"from {model.title}")


def opened_notice(where: str) -> str:
    """The line under the model bar while an opened model is shown: ``where`` it came from."""
    return f"**Model {where}**; its weights run in the Feature maps tab."


def _opened(spec: str, notice: str) -> OpenedModel:
    return OpenedModel(spec, spec, "file", [spec, opened_notice(notice)])


def custom_from_preset(preset: str) -> CustomFields:
    """Copy a preset's structure into the custom fields (an explicit button: no race with the user's edits)."""
    c = get_preset(preset)
    return CustomFields(c.block, *c.layers, c.width_per_group, c.groups, c.stride_in)


def show_custom(mode: str) -> Any:
    return gr.update(visible=mode == "Custom")


def source_notice(spec: str, opened: list[str] | None) -> str:
    """Where the applied model came from, while it is the checkpoint's."""
    return opened[1] if opened and opened[0] == spec else ""


__all__ = ["AppliedSpec", "CustomFields", "MODES", "OpenedModel", "Spec", "apply_spec", "custom_from_preset",
           "open_checkpoint_file", "open_model_folder", "opened_notice", "pick_timm", "show_custom", "source_notice", "spec_from_controls",
           "timm_choices"]
