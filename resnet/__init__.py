"""ResNet family, torchvision-compatible: same modules, state-dict keys and numerics."""
from .blocks import BLOCK_TYPES, BasicBlock, Bottleneck, conv1x1, conv3x3, is_block
from .config import MAX_BLOCKS_PER_STAGE, PRESET_TITLES, PRESETS, ResNetConfig, get_preset, parse_config
from .model import STAGE_NAMES, ResNet, build
from .preprocess import Preprocess
from .presets import (
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
from .weights import CheckpointError, WeightsInfo, find_cached, load_weights, read_state_dict, weights_for

__all__ = [
    "BLOCK_TYPES", "BasicBlock", "Bottleneck", "CheckpointError", "MAX_BLOCKS_PER_STAGE", "PRESETS",
    "PRESET_TITLES", "Preprocess", "ResNet", "ResNetConfig", "STAGE_NAMES", "WeightsInfo", "build",
    "conv1x1", "conv3x3", "find_cached", "get_preset", "is_block", "parse_config", "load_weights", "read_state_dict",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
    "resnext101_64x4d", "weights_for", "wide_resnet50_2", "wide_resnet101_2",
]
