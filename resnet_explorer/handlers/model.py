"""Which model the page shows: the controls' spec, a typed spec, a timm pick, an opened checkpoint."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import gradio as gr

import shutil
from pathlib import Path

from explorer.files import fresh_folder
from explorer.models import declared_size, input_size_of, open_checkpoint, parse_model, timm_architectures
from explorer.sources import HF_FILES, SUFFIXES, open_model_file
from resnet import ResNetConfig, get_preset, parse_spec
from resnet.config import CIFAR_SIZE
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
    """The custom controls: block type, blocks per stage, width per group, groups, stride placement; the family
    (ImageNet's four stages or CIFAR's three), and for CIFAR the shortcut option and the base width."""

    block_type: Any
    layer1: Any
    layer2: Any
    layer3: Any
    layer4: Any
    width: Any
    groups: Any
    stride_in: Any
    family: Any
    shortcut: Any
    base_width: Any


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
    family: Any
    shortcut: Any
    base_width: Any


class OpenedModel(NamedTuple):
    """A checkpoint opened: its model applied, its weights chosen, and [spec, notice] kept for the notice."""

    spec_box: str
    model: str
    weights: str
    opened: list[str]


FAMILIES = {"ImageNet": "imagenet", "CIFAR": "cifar"}  # the custom fields' labels -> ResNetConfig.family


@titled("Invalid configuration")
def spec_from_controls(mode: str, preset: str, block_type: str, l1: float, l2: float, l3: float, l4: float,
                       width_per_group: float, groups: float, stride_in: str, family: str, shortcut: str,
                       base_width: float, current: str) -> Spec:
    """The spec the controls describe. Options the controls do not show (dilation, classes, zero-init) carry
    over from the current spec, within its family (a CIFAR model's 10 classes do not become an ImageNet one's)."""
    try:
        kept = parse_spec(current)
    except ValueError:
        kept = ResNetConfig()
    if mode == "Preset":
        base = get_preset(preset)
    elif mode == "Custom" and FAMILIES.get(family) == "cifar":
        layers = tuple(whole(f"blocks in layer{i}", v) for i, v in enumerate((l1, l2, l3), start=1))
        base = ResNetConfig(block="basic", layers=layers, family="cifar", shortcut=shortcut,
                            base_width=whole("base width", base_width))
    elif mode == "Custom":
        layers = tuple(whole(f"blocks in layer{i}", v) for i, v in enumerate((l1, l2, l3, l4), start=1))
        base = ResNetConfig(block=block_type, layers=layers, width_per_group=whole("width per group", width_per_group),
                            groups=whole("groups", groups), stride_in=stride_in)
    else:
        raise Refusal(f"mode must be one of {list(MODES)}, got {mode!r}", "Invalid configuration")
    config = _carried(base, kept, mode == "Preset")
    APP.settings.limits.check_depths(config.layers)
    return Spec(config.spec, config.spec)


def _carried(base: ResNetConfig, kept: ResNetConfig, preset: bool) -> ResNetConfig:
    """``base`` with the current spec's options the controls do not show, where they apply to it (a preset
    picked keeps the stride placement or the shortcut option too)."""
    if base.family != kept.family:
        return base
    if base.cifar:
        return replace(base, num_classes=kept.num_classes, zero_init_residual=kept.zero_init_residual,
                       shortcut=kept.shortcut if preset else base.shortcut)
    dilation = kept.replace_stride_with_dilation if base.block == "bottleneck" else (False, False, False)
    stride_in = kept.stride_in if preset else base.stride_in
    return replace(base, replace_stride_with_dilation=dilation, num_classes=kept.num_classes,
                   zero_init_residual=kept.zero_init_residual, stride_in=stride_in)


def apply_spec(text: str) -> AppliedSpec:
    """A typed spec applied, and the controls set to show it (a timm model leaves them as they are)."""
    config = model_config(text)
    if not isinstance(config, ResNetConfig):
        return skipped(AppliedSpec)._replace(spec_box=config.spec, model=config.spec)
    preset = preset_of(config)  # same block, depths and widths; the other options show in the spec
    return AppliedSpec(config.spec, config.spec, "Preset" if preset else "Custom",
                       preset.name if preset else gr.update(), *custom_fields(config))


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


def size_for(spec: str, size: Any) -> Any:
    """The input size a new model is shown at: a model file's static size; 32 px for a CIFAR model where the
    slider shows ImageNet's 224, and 224 back for an ImageNet one where it shows 32; otherwise the user's."""
    try:
        model = parse_model(spec)
        own, fixed = input_size_of(model), declared_size(model)
    except (ValueError, OSError):  # the views say what is wrong with the spec
        return size
    if fixed:
        return fixed
    return own if (own, size) in ((CIFAR_SIZE, 224), (224, CIFAR_SIZE)) else size


def opened_notice(where: str) -> str:
    """The line under the model bar while an opened model is shown: ``where`` it came from."""
    return f"**Model {where}**; its weights run in the Feature maps tab."


def _opened(spec: str, notice: str) -> OpenedModel:
    return OpenedModel(spec, spec, "file", [spec, opened_notice(notice)])


def custom_from_preset(preset: str) -> CustomFields:
    """Copy a preset's structure into the custom fields (an explicit button: no race with the user's edits)."""
    return custom_fields(get_preset(preset))


def custom_fields(c: ResNetConfig) -> CustomFields:
    """The custom fields showing ``c`` (a CIFAR config leaves layer4 and the ImageNet-only fields as they are)."""
    family = next(k for k, v in FAMILIES.items() if v == c.family)
    if c.cifar:
        keep = gr.update()
        return CustomFields(keep, *c.layers, keep, keep, keep, keep, family, c.shortcut, c.base_width)
    return CustomFields(c.block, *c.layers, c.width_per_group, c.groups, c.stride_in, family, gr.update(), gr.update())


def show_custom(mode: str) -> Any:
    return gr.update(visible=mode == "Custom")


def source_notice(spec: str, opened: list[str] | None) -> str:
    """Where the applied model came from, while it is the checkpoint's."""
    return opened[1] if opened and opened[0] == spec else ""


__all__ = ["AppliedSpec", "CustomFields", "FAMILIES", "MODES", "custom_fields", "OpenedModel", "Spec", "apply_spec", "custom_from_preset",
           "open_checkpoint_file", "open_model_folder", "opened_notice", "pick_timm", "show_custom", "size_for", "source_notice", "spec_from_controls",
           "timm_choices"]
