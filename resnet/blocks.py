"""Residual blocks: BasicBlock (two 3x3 convs) and Bottleneck (1x1 reduce, 3x3, 1x1 expand x4).

Attribute names (conv1, bn1, ..., downsample) are torchvision's, so state-dict keys match.
"""
from __future__ import annotations

from typing import Iterator

from torch import Tensor, nn

from .config import StrideIn


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution; padding equals dilation so stride alone decides the output size."""
    return nn.Conv2d(
        in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
        groups=groups, bias=False, dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution: changes channels (and, with a stride, resolution) only."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ResidualBlock(nn.Module):
    """What every block shares: out = ReLU(F(x) + shortcut(x)), shortcut = identity or ``downsample``."""

    expansion: int = 1
    conv1: nn.Conv2d
    relu: nn.ReLU
    downsample: nn.Module | None

    @property
    def width(self) -> int:
        """Channels inside the residual branch (the bottleneck width)."""
        return self.conv1.out_channels

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The BN that ends the residual branch: its output is F(x), just before the add."""
        raise NotImplementedError

    @property
    def last_bn_name(self) -> str:
        return next(name for name, m in self.named_children() if m is self.last_bn)

    def zero_init_last(self) -> None:
        """Zero the last BN's scale, so F(x) = 0 and the block starts as an identity (``zero_init_residual``)."""
        nn.init.zeros_(self.last_bn.weight)

    def residual(self, x: Tensor) -> Tensor:
        """F(x): the residual branch up to its last BN, before the add."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        out = self.residual(x)
        identity = x if self.downsample is None else self.downsample(x)
        out += identity
        return self.relu(out)


class TwoConvBlock(ResidualBlock):
    """The branch of both BasicBlocks (torchvision's and the CIFAR family's): 3×3 conv, BN, ReLU, 3×3 conv, BN."""

    def _two_convs(self, inplanes: int, planes: int, stride: int) -> None:
        # conv1 carries the block's stride (so does its shortcut, when it has one)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def residual(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))


class BasicBlock(TwoConvBlock):
    """Two 3x3 convs; output channels equal the block's planes (expansion 1)."""

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        stride_in: StrideIn = "v1.5",
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and width_per_group=64")
        if dilation > 1:
            raise ValueError("BasicBlock does not support dilation (replace_stride_with_dilation)")
        self._two_convs(inplanes, planes, stride)
        self.downsample = downsample


class Bottleneck(ResidualBlock):
    """1x1 reduce -> 3x3 (groups, dilation) -> 1x1 expand to planes * 4.

    ``stride_in`` places the stride: "v1.5" (torchvision, the notes) on the 3x3 conv,
    "v1" (the original paper) on the first 1x1 conv. Parameters are identical.
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        stride_in: StrideIn = "v1.5",
    ) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        stride1, stride3 = (stride, 1) if stride_in == "v1" else (1, stride)
        self.conv1 = conv1x1(inplanes, width, stride1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride3, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def residual(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


BLOCK_TYPES: dict[str, type[BasicBlock] | type[Bottleneck]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


class Staged(nn.Module):
    """A network of stages of residual blocks; ``STAGES`` names its stage containers, in forward order."""

    STAGES: tuple[str, ...] = ()

    def named_blocks(self) -> Iterator[tuple[str, ResidualBlock]]:
        """``("layer2.0", block)`` for every residual block, in forward order (walks the stages directly)."""
        for stage in self.STAGES:
            for index, block in enumerate(getattr(self, stage)):
                yield f"{stage}.{index}", block


def is_block(module: nn.Module) -> bool:
    """True for a residual block of this package."""
    return isinstance(module, ResidualBlock)


__all__ = ["BasicBlock", "Bottleneck", "ResidualBlock", "BLOCK_TYPES", "Staged", "TwoConvBlock", "conv1x1", "conv3x3",
           "is_block"]
