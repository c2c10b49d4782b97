"""Multiply-accumulate counts in torchinfo's convention, from a module and its observed output shape.

Conv: parameter count x output positions. BatchNorm and Linear: parameter count.
With these, ResNet totals at 224x224 equal torchvision's published GFLOPs.
"""
from __future__ import annotations

import math

from torch import nn

from .records import Shape


def own_params(module: nn.Module) -> int:
    """Parameters of ``module`` itself, not its children (read directly: ``parameters()`` is slow per call)."""
    return sum(p.numel() for p in module._parameters.values() if p is not None)


def module_macs(module: nn.Module, out_shape: Shape) -> int:
    """MACs of one leaf module for one sample whose output shape (C, H, W...) is ``out_shape``."""
    params = own_params(module)
    if isinstance(module, nn.modules.conv._ConvNd):
        return params * math.prod(out_shape[1:])
    return params
