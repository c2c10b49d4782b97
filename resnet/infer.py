"""The architecture inside a checkpoint, read from its state dict alone (names and shapes, no code).

Three stages and a ``linear`` head are the CIFAR family as the public CIFAR code saves it: the stem's width, the
stage counts, and the shortcut option from where ``shortcut`` tensors are (none: option A, in the blocks that
change shape: B, in every block: C). For the ImageNet family, a ``conv3`` means Bottleneck; the ``layerN.i`` indices give the blocks per stage; ``conv1``/``conv2`` shapes the
width and groups; ``fc`` the classes; ``conv1.0``…``conv1.6`` a deep stem; a ``downsample`` whose conv is its
second entry an avg-pool shortcut (ResNet-D); ``se.fc1`` squeeze-and-excitation, ``se.conv`` ECA. What leaves
no weights (where the stride sits, dilation, blur pooling) cannot be read and takes torchvision's defaults.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import torch

from .config import ResNetConfig
from .presets import preset_of
from .weights import CheckpointError

_BLOCK_KEY = re.compile(r"^layer([1-4])\.(\d+)\.")


@dataclass(frozen=True)
class Architecture:
    """What a checkpoint is: the plain ResNet config it shares its blocks with, and what it adds."""

    config: ResNetConfig  # block, blocks per stage, groups, width, classes (stride placement: torchvision's)
    stem: str  # "7×7 conv" or "deep: 3×3 convs 32-32-64"
    shortcut: str  # "1×1 conv + BN" or "2×2 avg pool + 1×1 conv + BN"
    attention: str | None  # "SE" or "ECA"
    norm: str  # "BN" or "GroupNorm"

    @property
    def plain(self) -> bool:
        """Our layout: it loads into ``resnet.build(config)`` strictly (for ImageNet's family, torchvision's)."""
        return self.config.cifar or (self.stem == "7×7 conv" and self.shortcut == "1×1 conv + BN"
                                     and self.attention is None and self.norm == "BN")

    @property
    def description(self) -> str:
        """``Bottleneck 3-4-6-3, 10 classes`` (+ what a plain ResNet does not have); ``CIFAR ResNet-56, option A
        shortcuts, 10 classes``."""
        c = self.config
        if c.cifar:
            width = "" if c.base_width == 16 else f" (width {c.base_width})"
            return (f"CIFAR ResNet-{c.depth}{width}, option {c.shortcut} shortcuts ({self.shortcut}), "
                    f"{c.num_classes} classes")
        parts = [f"{c.block.capitalize() if c.block == 'bottleneck' else 'BasicBlock'} "
                 f"{'-'.join(map(str, c.layers))}"]
        if (c.groups, c.width_per_group) != (1, 64):
            parts.append(f"{c.groups}x{c.width_per_group}d")
        parts.append(f"{c.num_classes} classes")
        if not self.plain:
            extras = [self.stem if self.stem != "7×7 conv" else "", self.shortcut if "avg" in self.shortcut else "",
                      self.attention or "", self.norm if self.norm != "BN" else ""]
            parts.append(", ".join(e for e in extras if e))
        return ", ".join(parts)


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...] | None:
    t = state.get(key)
    return tuple(t.shape) if isinstance(t, torch.Tensor) else None


def _stage_counts(state: Mapping[str, torch.Tensor]) -> list[int]:
    counts = [0, 0, 0, 0]
    for key in state:
        m = _BLOCK_KEY.match(key)
        if m:
            stage, index = int(m.group(1)) - 1, int(m.group(2))
            counts[stage] = max(counts[stage], index + 1)
    return counts


CIFAR_SHORTCUTS = {"A": "subsample + zero-pad", "B": "1×1 conv + BN where the shape changes",
                   "C": "1×1 conv + BN in every block"}


def _cifar(state: Mapping[str, torch.Tensor], counts: tuple[int, ...]) -> Architecture:
    """A three-stage network with a ``linear`` head: the CIFAR family; its shortcut option from its tensors."""
    stem, head = _shape(state, "conv1.weight"), _shape(state, "linear.weight")
    blocks = [f"layer{s}.{i}" for s, n in enumerate(counts, start=1) for i in range(n)]
    if any(_shape(state, f"{b}.conv3.weight") for b in blocks) or stem is None or len(stem) != 4 or stem[2] != 3:
        raise CheckpointError("a three-stage ResNet-like state dict, but not the CIFAR family's (a 3×3 conv1 and "
                              "BasicBlocks of conv1/conv2): this explorer does not know its layout")
    projected = [b for b in blocks if _shape(state, f"{b}.shortcut.0.weight")]
    changing = [b for b in blocks if (_shape(state, f"{b}.conv1.weight") or (0, 0))[1]
                != (_shape(state, f"{b}.conv2.weight") or (0,))[0]]
    option = "C" if len(projected) == len(blocks) else "B" if projected else "A"
    if option == "B" and projected != changing:
        raise CheckpointError(f"shortcut projections in {', '.join(projected[:4])}, but the blocks that change "
                              f"shape are {', '.join(changing[:4]) or 'none'}: not one of options A, B, C")
    try:
        config = ResNetConfig(family="cifar", block="basic", layers=counts, base_width=stem[0], shortcut=option,
                              num_classes=head[0] if head else 10)
    except ValueError as exc:
        raise CheckpointError(f"a CIFAR-like state dict that no CIFAR ResNet config describes: {exc}") from None
    return Architecture(config, "3×3 conv", CIFAR_SHORTCUTS[option], None, "BN")


def infer_architecture(state: Mapping[str, torch.Tensor]) -> Architecture:
    """The architecture of a ResNet-family state dict; CheckpointError saying what is missing otherwise."""
    counts = _stage_counts(state)
    if all(counts[:3]) and not counts[3] and "linear.weight" in state:
        return _cifar(state, tuple(counts[:3]))
    conv1, conv2 = _shape(state, "layer1.0.conv1.weight"), _shape(state, "layer1.0.conv2.weight")
    if not all(counts) or conv1 is None or conv2 is None or len(conv1) != 4 or len(conv2) != 4:
        found = sum(1 for c in counts if c)
        raise CheckpointError(
            "not a ResNet-family state dict: expected layer1…layer4 of blocks with conv1/conv2 weights and an fc "
            "head, or the CIFAR family's layer1…layer3 and linear head "
            f"(found {found} of the 4 stages{'' if conv1 else ', no layer1.0.conv1.weight'}; first keys: "
            f"{', '.join(list(state)[:3])})")
    conv3 = _shape(state, "layer1.0.conv3.weight")
    bottleneck = conv3 is not None
    width, groups = conv1[0], conv1[0] // conv2[1]
    planes = (conv3[0] // 4) if bottleneck else conv2[0]
    fc = _shape(state, "fc.weight")
    try:
        config = ResNetConfig(block="bottleneck" if bottleneck else "basic", layers=tuple(counts), groups=groups,
                              width_per_group=width * 64 // (planes * groups), num_classes=fc[0] if fc else 1000)
    except ValueError as exc:
        raise CheckpointError(f"a ResNet-like state dict, but not one a ResNet config can describe: {exc}") from None
    if fc is None:
        raise CheckpointError("a ResNet backbone without its classifier (no fc.weight): save the whole model's "
                              "state dict, head included")
    if _shape(state, "conv1.weight"):
        stem = "7×7 conv"
    else:
        widths = [_shape(state, f"conv1.{i}.weight") for i in (0, 3, 6)]
        if not all(widths):
            raise CheckpointError("a ResNet-like state dict with a stem this explorer does not know "
                                  f"(keys: {', '.join(k for k in state if k.startswith('conv1'))[:200]})")
        stem = "deep: 3×3 convs " + "-".join(str(w[0]) for w in widths)
    down = "layer2.0.downsample"
    shortcut = "2×2 avg pool + 1×1 conv + BN" if (_shape(state, f"{down}.1.weight") or ())[-1:] == (1,) \
        and len(_shape(state, f"{down}.1.weight") or ()) == 4 else "1×1 conv + BN"
    attention = ("SE" if any(".se.fc1." in k for k in state)
                 else "ECA" if any(".se.conv." in k for k in state) else None)
    norm = "BN" if "bn1.running_mean" in state or "conv1.1.running_mean" in state else "GroupNorm"
    return Architecture(config, stem, shortcut, attention, norm)


def plain_preset(arch: Architecture) -> str | None:
    """The preset whose blocks it shares, if the checkpoint is a plain ResNet (a fine-tuned torchvision model)."""
    preset = preset_of(arch.config) if arch.plain else None
    return preset.name if preset else None


__all__ = ["Architecture", "infer_architecture", "plain_preset"]
