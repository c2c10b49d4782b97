"""ResNet family, torchvision-compatible: same modules, state-dict keys and numerics.

``ResNetConfig`` describes a network, ``ResNetConfig.spec`` / ``parse_spec`` name it in one string, ``PRESETS``
holds torchvision's ten architectures with their weights, ``build`` makes the module.
"""
from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use: configs, presets and specs need no torch, so a UI can describe models before torch
# has finished importing (the app's start-up).
_MODULES = {
    "blocks": ("BLOCK_TYPES", "BasicBlock", "Bottleneck", "ResidualBlock", "conv1x1", "conv3x3", "is_block"),
    "builders": ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                 "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"),
    "config": ("ResNetConfig",),
    "model": ("STAGE_NAMES", "ResNet", "build"),
    "preprocess": ("Preprocess",),
    "presets": ("PRESETS", "Preset", "WeightsInfo", "get_preset", "weights_for"),
    "spec": ("parse_spec",),
    "weights": ("CheckpointError", "download_weights", "find_cached", "load_weights", "read_state_dict"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BLOCK_TYPES", "BasicBlock", "Bottleneck", "CheckpointError", "PRESETS", "Preprocess", "Preset", "ResNet",
    "ResNetConfig", "ResidualBlock", "STAGE_NAMES", "WeightsInfo", "build", "conv1x1", "conv3x3", "download_weights",
    "find_cached", "get_preset", "is_block", "load_weights", "parse_spec", "read_state_dict", "resnet18", "resnet34",
    "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "weights_for",
    "wide_resnet50_2", "wide_resnet101_2",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'resnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
