"""The ResNet network: stem, four stages built by ``_make_layer``, pooling and classifier."""
from __future__ import annotations


import torch
from torch import Tensor, nn

from .blocks import BLOCK_TYPES, BasicBlock, Bottleneck, Staged, conv1x1
from .cifar import CifarResNet
from .config import ResNetConfig

STAGE_PLANES: tuple[int, ...] = (64, 128, 256, 512)
STAGE_STRIDES: tuple[int, ...] = (1, 2, 2, 2)
STAGE_NAMES: tuple[str, ...] = ("layer1", "layer2", "layer3", "layer4")


class ResNet(Staged):
    """torchvision-compatible ResNet: same module tree, state-dict keys and forward computation."""

    # The module names of each part, in forward order: what the explorer reads instead of re-describing them.
    STEM: tuple[str, ...] = ("conv1", "bn1", "relu", "maxpool")
    STAGES: tuple[str, ...] = STAGE_NAMES
    HEAD: tuple[str, ...] = ("avgpool", "fc")

    def __init__(self, config: ResNetConfig, init_weights: bool = True) -> None:
        super().__init__()
        if config.cifar:
            raise ValueError(f"{config.spec} is a CIFAR-family config: build it with resnet.build or CifarResNet")
        self.config = config
        block = BLOCK_TYPES[config.block]
        self.inplanes = 64
        self.dilation = 1
        self.groups = config.groups
        self.base_width = config.width_per_group
        self.stride_in = config.stride_in

        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        dilate = (False, *config.replace_stride_with_dilation)
        for name, planes, blocks, stride, dil in zip(STAGE_NAMES, STAGE_PLANES, config.layers, STAGE_STRIDES, dilate):
            self.add_module(name, self._make_layer(block, planes, blocks, stride=stride, dilate=dil))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, config.num_classes)
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation: Kaiming-normal convs, unit BN, optional zero-init residual."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if self.config.zero_init_residual:
            for _, block in self.named_blocks():
                block.zero_init_last()

    def _make_layer(
        self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int, stride: int = 1, dilate: bool = False
    ) -> nn.Sequential:
        """One stage: the first block changes shape (projection shortcut), the rest keep it."""
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        # The one place that decides whether a block needs a projection shortcut.
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, self.stride_in)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, stride_in=self.stride_in))
        return nn.Sequential(*layers)

    def stem(self, x: Tensor) -> Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def build(config: ResNetConfig, device: torch.device | str | None = None,
          init_weights: bool = True) -> ResNet | CifarResNet:
    """Build ``config`` on ``device`` (a ``CifarResNet`` for the CIFAR family).

    ``init_weights=False`` skips the costly random initialisation: built on the meta device, then
    materialised with zero weights and unit BN variance (ready for a checkpoint). On ``device="meta"`` it
    stays there: shapes, parameter counts and MACs without allocating anything, for any size.
    """
    device = torch.device(device or "cpu")
    network = CifarResNet if config.cifar else ResNet
    if init_weights:
        with device:
            return network(config)
    with torch.device("meta"):
        model = network(config, init_weights=False)
    if device.type == "meta":
        return model
    model.to_empty(device=device)
    with torch.no_grad():
        for t in (*model.parameters(), *model.buffers()):
            t.zero_()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.fill_(1.0)
    return model
