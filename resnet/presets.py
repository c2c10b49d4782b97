"""Public builders under torchvision's names; each is one line over ``_resnet``."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from .config import PRESETS
from .model import ResNet


def _resnet(name: str, **overrides: Any) -> ResNet:
    """Build preset ``name``; keyword overrides (num_classes, stride_in, ...) are validated."""
    config = PRESETS[name]
    if overrides:
        config = replace(config, **overrides)
    return ResNet(config)


def resnet18(**kwargs: Any) -> ResNet:
    return _resnet("resnet18", **kwargs)


def resnet34(**kwargs: Any) -> ResNet:
    return _resnet("resnet34", **kwargs)


def resnet50(**kwargs: Any) -> ResNet:
    return _resnet("resnet50", **kwargs)


def resnet101(**kwargs: Any) -> ResNet:
    return _resnet("resnet101", **kwargs)


def resnet152(**kwargs: Any) -> ResNet:
    return _resnet("resnet152", **kwargs)


def resnext50_32x4d(**kwargs: Any) -> ResNet:
    return _resnet("resnext50_32x4d", **kwargs)


def resnext101_32x8d(**kwargs: Any) -> ResNet:
    return _resnet("resnext101_32x8d", **kwargs)


def resnext101_64x4d(**kwargs: Any) -> ResNet:
    return _resnet("resnext101_64x4d", **kwargs)


def wide_resnet50_2(**kwargs: Any) -> ResNet:
    return _resnet("wide_resnet50_2", **kwargs)


def wide_resnet101_2(**kwargs: Any) -> ResNet:
    return _resnet("wide_resnet101_2", **kwargs)
