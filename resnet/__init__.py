"""ResNet family, torchvision-compatible: same modules, state-dict keys and numerics.

``ResNetConfig`` describes a network, ``ResNetConfig.spec`` / ``parse_spec`` name it in one string, ``PRESETS``
holds torchvision's ten architectures with their weights, ``build`` makes the module.
"""
from .blocks import BLOCK_TYPES, BasicBlock, Bottleneck, ResidualBlock, conv1x1, conv3x3, is_block
from .builders import (
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    resnext101_32x8d,
    resnext101_64x4d,
    wide_resnet50_2,
    wide_resnet101_2,
)
from .config import ResNetConfig
from .model import STAGE_NAMES, ResNet, build
from .preprocess import Preprocess
from .presets import PRESETS, Preset, WeightsInfo, get_preset, weights_for
from .spec import parse_spec
from .weights import CheckpointError, download_weights, find_cached, load_weights, read_state_dict

__all__ = [
    "BLOCK_TYPES", "BasicBlock", "Bottleneck", "CheckpointError", "PRESETS", "Preprocess", "Preset", "ResNet",
    "ResNetConfig", "ResidualBlock", "STAGE_NAMES", "WeightsInfo", "build", "conv1x1", "conv3x3", "download_weights",
    "find_cached", "get_preset", "is_block", "load_weights", "parse_spec", "read_state_dict", "resnet18", "resnet34",
    "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "weights_for",
    "wide_resnet50_2", "wide_resnet101_2",
]
