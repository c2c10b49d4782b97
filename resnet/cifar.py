"""The CIFAR family of He et al. 2016 (§4.2): a 3×3 stem, three stages of BasicBlocks at 16/32/64 channels on
32×32 inputs, 6n+2 layers (ResNet-20 … 1202), global average pooling and a ``linear`` head.

Module names and the forward are those of the public CIFAR code that trained checkpoints come from
(akamaster/pytorch_resnet_cifar10): ``conv1``, ``bn1``, ``layerK.i.conv1/bn1/conv2/bn2``, ``shortcut.0/1`` for a
projection, ``linear``; the same ops in the same order, so a checkpoint loads strictly and its logits are
bit-identical. Where a block changes shape the shortcut is option A (``ZeroPadShortcut``: no parameters, no
state-dict keys), B (1×1 conv + BN) or C (a projection in every block).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import Staged, TwoConvBlock, conv1x1, conv3x3
from .config import ResNetConfig

CIFAR_STAGES: tuple[str, ...] = ("layer1", "layer2", "layer3")


class ZeroPadShortcut(nn.Module):
    """Option A: the input subsampled by the stride and its channels zero-padded, half in front, half behind
    (``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))`` in the public code)."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.front = (planes - in_planes) // 2
        self.back = planes - in_planes - self.front

    def forward(self, x: Tensor) -> Tensor:
        s = self.stride
        return F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, self.front, self.back), "constant", 0)

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad=({self.front}, {self.back})"


class BasicBlock(TwoConvBlock):
    """Two 3×3 convs with ``shortcut`` (the public code's name for torchvision's ``downsample``); named as the
    public code and the paper name it (``resnet.BasicBlock`` is torchvision's, with ``downsample``)."""

    expansion: int = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, option: str = "A") -> None:
        super().__init__()
        self._two_convs(in_planes, planes, stride)
        changes = stride != 1 or in_planes != planes
        if option == "C" or (option == "B" and changes):
            self.shortcut: nn.Module = nn.Sequential(conv1x1(in_planes, planes, stride), nn.BatchNorm2d(planes))
        elif changes:
            self.shortcut = ZeroPadShortcut(in_planes, planes, stride)
        else:
            self.shortcut = nn.Sequential()  # the identity, as the public code writes it (no keys)

    @property
    def downsample(self) -> nn.Module | None:  # type: ignore[override]
        """The shortcut when it computes something (None: identity), as ``ResidualBlock.forward`` reads it."""
        return None if isinstance(self.shortcut, nn.Sequential) and not len(self.shortcut) else self.shortcut


CifarBlock = BasicBlock


class CifarResNet(Staged):
    """ResNet-(6n+2) for 32×32 images."""

    STEM: tuple[str, ...] = ("conv1", "bn1", "relu")
    STAGES: tuple[str, ...] = CIFAR_STAGES
    HEAD: tuple[str, ...] = ("linear",)

    def __init__(self, config: ResNetConfig, init_weights: bool = True) -> None:
        super().__init__()
        if not config.cifar:
            raise ValueError(f"{config.spec} is not a CIFAR-family config")
        self.config = config
        width = config.base_width
        self.conv1 = conv3x3(3, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        in_planes = width
        for index, (name, blocks, planes) in enumerate(zip(CIFAR_STAGES, config.layers, config.stage_widths)):
            strides = [1 if index == 0 else 2] + [1] * (blocks - 1)
            layers = []
            for stride in strides:
                layers.append(BasicBlock(in_planes, planes, stride, config.shortcut))
                in_planes = planes
            self.add_module(name, nn.Sequential(*layers))
        self.linear = nn.Linear(in_planes, config.num_classes)
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """The public code's initialisation: Kaiming-normal (fan-in) convs and linear weights."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
        if self.config.zero_init_residual:
            for _, block in self.named_blocks():
                block.zero_init_last()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = F.avg_pool2d(out, out.shape[2:])  # the public code's global pool (a kernel the feature map's size)
        out = torch.flatten(out, 1)
        return self.linear(out)


__all__ = ["CIFAR_STAGES", "CifarBlock", "CifarResNet", "ZeroPadShortcut"]
