"""What commands share: the parser that answers in one line, the ``Command`` record, the model and image
arguments and what they name, the weights an image runs with, and the one writer of output files."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn

import numpy as np
from PIL import Image

from resnet import ResNetConfig
from resnet.preprocess import NORMALISATIONS

from ..limits import MIN_INPUT_SIZE, Limits
from ..models import (CHECKPOINT_SUFFIXES, Model, OpenedCheckpoint, input_size_of, is_checkpoint_path,
                      open_checkpoint, parse_model)
from ..sources import is_source_path, open_model_file

SPEC_HELP = ("a model spec: a preset (resnet50, ...), block:N-N-N-N[:GxWd][:v1][:dilXYZ][:cN] (e.g. "
             "bottleneck:3-4-6-3:32x4d), timm:NAME[:cN] with timm installed (timm:resnet50d), a checkpoint file "
             "(.pth/.safetensors: its architecture is inferred), or a model file: .onnx, .pt2 (torch.export), a "
             "Hugging Face folder (config.json + model.safetensors) or its .zip")


class UsageError(Exception):
    """A user mistake: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    commands: tuple[str, ...] = ()  # named when none is given

    def error(self, message: str) -> NoReturn:
        if "required: command" in message:
            raise UsageError(f"choose a command: {', '.join(self.commands)} (see {self.prog} --help)")
        raise UsageError(f"{message} (see {self.prog} --help)")


@dataclass(frozen=True)
class Command:
    """One command: its name and help, the function that adds its arguments, and the function that runs it
    (returning what to print)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Limits], str]


def model_arguments(p: argparse.ArgumentParser) -> None:
    """MODEL, the flags that change it, and the input size."""
    p.add_argument("model", help=SPEC_HELP)
    p.add_argument("--block", choices=["basic", "bottleneck"], help="change the block type")
    p.add_argument("--layers", type=int, nargs="+", metavar="N",
                   help="change the blocks per stage (four; three for a CIFAR ResNet)")
    p.add_argument("--groups", type=int, help="change the groups of the 3×3 conv (ResNeXt)")
    p.add_argument("--width-per-group", type=int, help="change the width per group (64 = ResNet, 128 = Wide ResNet)")
    p.add_argument("--stride-in", choices=["v1.5", "v1"], help="where a Bottleneck puts its stride (default v1.5)")
    p.add_argument("--dilation", type=int, nargs=3, choices=[0, 1], metavar="0|1",
                   help="replace the stride of layer2..layer4 with dilation")
    p.add_argument("--shortcut", choices=["A", "B", "C"], type=str.upper,
                   help="CIFAR ResNets: option A (zero-pad), B (project where the shape changes) or C (always)")
    p.add_argument("--base-width", type=int, help="CIFAR ResNets: channels of the stem and layer1 (default 16)")
    p.add_argument("--num-classes", type=int, help="classifier outputs (default 1000; CIFAR ResNets: 10)")
    p.add_argument("--input-size", type=int, help=f"input side in px (from {MIN_INPUT_SIZE}; default: a model "
                                                  "file's own, 32 for a CIFAR ResNet, else 224)")


FORCE_HELP = "replace files that exist already (they are never replaced otherwise)"


def _looks_like_a_file(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix.lower() in (*CHECKPOINT_SUFFIXES, ".onnx", ".pt2", ".zip")


def model_of(text: str, limits: Limits) -> tuple[Model, OpenedCheckpoint | None]:
    """The model a spec names, a model file is (.onnx, .pt2, a Hugging Face folder or its .zip), or a checkpoint
    file holds (with the opened checkpoint)."""
    if is_source_path(text):
        return open_model_file(text, limits.checkpoint_bytes, limits=limits), None
    if _looks_like_a_file(text) and not Path(text).exists():
        raise UsageError(f"no such file: {text}")
    if _looks_like_a_file(text) and Path(text).is_dir():
        raise UsageError(f"{text} is a folder, not a checkpoint or a Hugging Face folder (no config.json in it)")
    if is_checkpoint_path(text):
        opened = open_checkpoint(text, max_bytes=limits.checkpoint_bytes, max_keys=limits.max_checkpoint_keys)
        return opened.model, opened
    model = parse_model(text)
    if isinstance(model, ResNetConfig):
        limits.check_depths(model.layers)
    return model, None


def model_from_args(args: argparse.Namespace, limits: Limits) -> Model:
    """The model MODEL names (a spec or a checkpoint file), with the flags' changes, within the limits; an
    opened checkpoint is kept as ``args.opened`` (its weights are the default weights)."""
    config, args.opened = model_of(args.model, limits)
    changes = {k: v for k, v in {
        "block": getattr(args, "block", None), "layers": tuple(args.layers) if getattr(args, "layers", None) else None,
        "groups": getattr(args, "groups", None), "width_per_group": getattr(args, "width_per_group", None),
        "stride_in": getattr(args, "stride_in", None),
        "replace_stride_with_dilation": tuple(bool(d) for d in args.dilation) if getattr(args, "dilation", None) else None,
        "num_classes": getattr(args, "num_classes", None), "shortcut": getattr(args, "shortcut", None),
        "base_width": getattr(args, "base_width", None),
    }.items() if v is not None}
    if changes and not isinstance(config, ResNetConfig):
        raise UsageError(f"--{next(iter(changes)).replace('_', '-')} changes our own ResNet specs, not {config.spec}")
    if changes:
        try:
            config = dataclasses.replace(config, **changes)
        except ValueError as exc:
            raise UsageError(f"{config.spec} with {', '.join(changes)} changed: {exc}") from None
        limits.check_depths(config.layers)
    return config


def input_size(args: argparse.Namespace, model: Model, limits: Limits) -> int:
    """``--input-size``, else the model's own (a model file's static size, 32 for a CIFAR ResNet, else 224)."""
    return limits.check_input_size(args.input_size or input_size_of(model))


def image_arguments(p: argparse.ArgumentParser) -> None:
    """What a real forward pass of an image takes: the image, the weights, the device, the class names."""
    p.add_argument("image", help="image file (JPEG, PNG, WebP, BMP, GIF, TIFF)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", help="checkpoint (.pth state dict or .safetensors); default: random, seed 0 "
                                          "(a checkpoint given as MODEL is used too)")
    source.add_argument("--hub", action="store_true", help="the model's checkpoint from the torch hub cache")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (a GPU failure falls back to the CPU)")
    p.add_argument("--labels", help="class names for the predictions, one per line (default: the model's own, "
                                    "ImageNet's for 1000 outputs, CIFAR's for a CIFAR ResNet, else class indices)")
    p.add_argument("--normalize", choices=list(NORMALISATIONS), help="the mean and std of a dataset (default: the "
                                                                     "model's own: CIFAR's for a CIFAR ResNet, else ImageNet's)")


def run_image(args: argparse.Namespace, limits: Limits) -> tuple[Any, str, Any, Any]:
    """The image through every block of the model MODEL names, with the weights the arguments choose: --weights,
    else a checkpoint given as MODEL, else --hub, else random. Returns (store, run id, capture, loaded model)."""
    from ..features.store import FeatureStore
    from ..tracing import resolve_device

    config = args.resolved = model_from_args(args, limits)  # (kept: its own class names name the outputs)
    for path, what in ((args.image, "image"), (args.weights, "--weights")):
        if path and not Path(path).is_file():
            raise UsageError(f"{what}: no such file {path}")
    weights = args.weights or (str(args.opened.path) if args.opened else None)
    source = "file" if weights else "hub" if args.hub else "random"
    store = FeatureStore(limits)
    pre = store.model(config, source, weights, resolve_device(args.device)).preprocess
    pre = pre.normalised(args.normalize) if args.normalize else None
    cid, cap, loaded = store.run_image(config, args.image, source, weights, resolve_device(args.device), pre)
    return store, cid, cap, loaded


Output = bytes | str | Image.Image | np.ndarray


def check_new(paths: list[Path], force: bool) -> None:
    """Refuse to replace an existing file (or to write over a folder) unless ``--force`` says so."""
    for path in paths:
        if path.is_dir():
            raise UsageError(f"{path} is a folder; name a file to write")
        if path.exists() and not force:
            raise UsageError(f"{path} exists; pass --force to replace it")


def write_outputs(files: Mapping[Path, Output], folder: Path | None = None, force: bool = False) -> list[Path]:
    """Write every file (``folder`` made first, when given): bytes as they are, text as UTF-8, images as PNG.
    Nothing is written when one of them exists already and ``force`` is not set; one line (UsageError) if the
    file system refuses."""
    from ..features.views import PNG_LEVEL

    check_new(list(files), force)
    path = folder
    try:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        for path, content in files.items():
            if isinstance(content, bytes):
                path.write_bytes(content)
            elif isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                image = content if isinstance(content, Image.Image) else Image.fromarray(content)
                image.save(path, compress_level=PNG_LEVEL)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from None
    return list(files)
