"""ResNet family, torchvision-compatible: same modules, state-dict keys and numerics.

``ResNetConfig`` describes a network, ``ResNetConfig.spec`` / ``parse_spec`` name it in one string, ``PRESETS``
holds torchvision's ten architectures with their weights and the paper's six CIFAR ones (``resnet20`` …
``resnet1202``, ``CifarResNet``), ``build`` makes the module.
"""
from __future__ import annotations

import lazy_loader

# Loaded on first use: configs, presets and specs need no torch, so a UI can describe models before torch
# has finished importing (the app's start-up).
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "blocks": ("BLOCK_TYPES", "BasicBlock", "Bottleneck", "ResidualBlock", "conv1x1", "conv3x3", "is_block"),
    "builders": ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                 "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"),
    "cifar": ("CifarBlock", "CifarResNet", "ZeroPadShortcut"),
    "config": ("ResNetConfig",),
    "model": ("STAGE_NAMES", "ResNet", "build"),
    "preprocess": ("Preprocess",),
    "presets": ("CIFAR_PRESETS", "IMAGENET_PRESETS", "PRESETS", "Preset", "WeightsInfo", "get_preset", "weights_for"),
    "spec": ("parse_spec",),
    "weights": ("CheckpointError", "download_weights", "find_cached", "load_weights", "read_state_dict"),
})
