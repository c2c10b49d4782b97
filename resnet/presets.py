"""The presets as one table: name, title, structure and published weights (with their preprocessing):
torchvision's ten ImageNet architectures and the paper's six CIFAR ones (``resnet20`` … ``resnet1202``).

Nothing here touches the network or the disk; ``resnet.weights`` finds and loads the files.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .config import ResNetConfig
from .preprocess import Preprocess

DOWNLOAD_ROOT = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class WeightsInfo:
    """One torchvision checkpoint: its file, its ImageNet accuracy and the preprocessing it was trained with."""

    arch: str
    tag: str  # torchvision's enum member, e.g. IMAGENET1K_V2
    filename: str
    resize_size: int
    acc1: float  # ImageNet-1k top-1 (%), as torchvision publishes it
    crop_size: int = 224

    @property
    def url(self) -> str:
        return DOWNLOAD_ROOT + self.filename

    @property
    def version(self) -> int:
        """The recipe's number (V2 -> 2); later recipes are better."""
        m = re.search(r"_V(\d+)$", self.tag)
        return int(m.group(1)) if m else 0

    @property
    def transforms(self) -> Preprocess:
        """The images these weights expect (torchvision keeps this on the weights, and so do we)."""
        return Preprocess(self.resize_size, self.crop_size)

    @property
    def description(self) -> str:
        return f"torchvision {self.tag}, ImageNet top-1 {self.acc1:.1f}%"


@dataclass(frozen=True)
class Preset:
    name: str  # torchvision's builder name
    title: str
    config: ResNetConfig
    weights: tuple[WeightsInfo, ...]

    def best_weights(self) -> WeightsInfo | None:
        return max(self.weights, key=lambda w: w.version, default=None)


def _preset(name: str, title: str, block: str, layers: tuple[int, ...], groups: int = 1, width: int = 64,
            weights: tuple[tuple[str, str, int, float], ...] = ()) -> Preset:
    config = ResNetConfig(block=block, layers=layers, groups=groups, width_per_group=width)
    return Preset(name, title, config, tuple(WeightsInfo(name, *w) for w in weights))


def _cifar(n: int) -> Preset:
    """ResNet-(6n+2) of He et al. 2016, Table 6: n BasicBlocks per stage, option A. No published weights."""
    config = ResNetConfig(block="basic", layers=(n, n, n), family="cifar")
    return Preset(f"resnet{config.depth}", f"CIFAR ResNet-{config.depth}", config, ())


_V1, _V2 = "IMAGENET1K_V1", "IMAGENET1K_V2"
PRESETS: dict[str, Preset] = {p.name: p for p in (
    _preset("resnet18", "ResNet-18", "basic", (2, 2, 2, 2), weights=((_V1, "resnet18-f37072fd.pth", 256, 69.758),)),
    _preset("resnet34", "ResNet-34", "basic", (3, 4, 6, 3), weights=((_V1, "resnet34-b627a593.pth", 256, 73.314),)),
    _preset("resnet50", "ResNet-50", "bottleneck", (3, 4, 6, 3),
            weights=((_V1, "resnet50-0676ba61.pth", 256, 76.13), (_V2, "resnet50-11ad3fa6.pth", 232, 80.858))),
    _preset("resnet101", "ResNet-101", "bottleneck", (3, 4, 23, 3),
            weights=((_V1, "resnet101-63fe2227.pth", 256, 77.374), (_V2, "resnet101-cd907fc2.pth", 232, 81.886))),
    _preset("resnet152", "ResNet-152", "bottleneck", (3, 8, 36, 3),
            weights=((_V1, "resnet152-394f9c45.pth", 256, 78.312), (_V2, "resnet152-f82ba261.pth", 232, 82.284))),
    _preset("resnext50_32x4d", "ResNeXt-50 32x4d", "bottleneck", (3, 4, 6, 3), groups=32, width=4,
            weights=((_V1, "resnext50_32x4d-7cdf4587.pth", 256, 77.618),
                     (_V2, "resnext50_32x4d-1a0047aa.pth", 232, 81.198))),
    _preset("resnext101_32x8d", "ResNeXt-101 32x8d", "bottleneck", (3, 4, 23, 3), groups=32, width=8,
            weights=((_V1, "resnext101_32x8d-8ba56ff5.pth", 256, 79.312),
                     (_V2, "resnext101_32x8d-110c445d.pth", 232, 82.834))),
    _preset("resnext101_64x4d", "ResNeXt-101 64x4d", "bottleneck", (3, 4, 23, 3), groups=64, width=4,
            weights=((_V1, "resnext101_64x4d-173b62eb.pth", 232, 83.246),)),
    _preset("wide_resnet50_2", "Wide ResNet-50-2", "bottleneck", (3, 4, 6, 3), width=128,
            weights=((_V1, "wide_resnet50_2-95faca4d.pth", 256, 78.468),
                     (_V2, "wide_resnet50_2-9ba9bcbe.pth", 232, 81.602))),
    _preset("wide_resnet101_2", "Wide ResNet-101-2", "bottleneck", (3, 4, 23, 3), width=128,
            weights=((_V1, "wide_resnet101_2-32ee1156.pth", 256, 78.848),
                     (_V2, "wide_resnet101_2-d733dc28.pth", 232, 82.51))),
    *(_cifar(n) for n in (3, 5, 7, 9, 18, 200)),
)}
CIFAR_PRESETS: tuple[str, ...] = tuple(name for name, p in PRESETS.items() if p.config.cifar)
IMAGENET_PRESETS: tuple[str, ...] = tuple(name for name, p in PRESETS.items() if not p.config.cifar)


def _structure(c: ResNetConfig) -> tuple:
    return c.family, c.block, c.layers, c.groups, c.width_per_group, c.base_width


_BY_STRUCTURE = {_structure(p.config): p for p in PRESETS.values()}


def get_preset(name: str) -> ResNetConfig:
    """The config of preset ``name``; ValueError listing the known names otherwise."""
    try:
        return PRESETS[name].config
    except (KeyError, TypeError):
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def preset_of(config: ResNetConfig) -> Preset | None:
    """The preset with the same block, depths and widths (other options may differ), if any."""
    return _BY_STRUCTURE.get(_structure(config))


def weights_for(arch: str) -> list[WeightsInfo]:
    """Published checkpoints of preset ``arch``, best (latest recipe) first."""
    preset = PRESETS.get(arch)
    return sorted(preset.weights, key=lambda w: w.version, reverse=True) if preset else []


def weights_by_filename(filename: str) -> WeightsInfo | None:
    """The published checkpoint a file is, judged by torchvision's file name (which carries a hash prefix)."""
    return next((w for p in PRESETS.values() for w in p.weights if w.filename == filename), None)
