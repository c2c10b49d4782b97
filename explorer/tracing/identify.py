"""What a ResNet-family module is: the plain ResNet config closest to it, and a name for it."""
from __future__ import annotations

from torch import nn

from resnet import ResNet, ResNetConfig
from resnet.presets import preset_of

from .layout import Layout


def infer_config(layout: Layout) -> ResNetConfig | None:
    """The ``ResNetConfig`` with the same block type, blocks per stage, groups, width, stride placement,
    dilation and classes; ``None`` where no config can say it (other stage widths, say). What a config
    cannot say (a deep stem, attention, an avg-pool shortcut) the trace's records still show."""
    net = layout.backbone
    if isinstance(net, ResNet):
        return net.config
    stages = [getattr(net, s) for s in layout.stages]
    first = stages[0][0]
    bottleneck = isinstance(getattr(first, "conv3", None), nn.Conv2d)
    expansion = 4 if bottleneck else 1
    out_channels = (first.conv3 if bottleneck else first.conv2).out_channels
    planes, groups, width = out_channels // expansion, first.conv2.groups, first.conv1.out_channels
    second = stages[1][0]
    fc = [m for n in layout.head for m in getattr(net, n).modules() if isinstance(m, nn.Linear)]
    try:
        return ResNetConfig(
            block="bottleneck" if bottleneck else "basic", layers=tuple(len(s) for s in stages), groups=groups,
            width_per_group=width * 64 // (planes * groups),
            stride_in="v1" if bottleneck and second.conv1.stride[0] > 1 else "v1.5",
            replace_stride_with_dilation=tuple(s[-1].conv2.dilation[0] > 1 for s in stages[1:]),
            num_classes=fc[-1].out_features if fc else 1000,
        )
    except (ValueError, TypeError):
        return None


def model_label(model: nn.Module, layout: Layout, config: ResNetConfig | None) -> str:
    """Ours: the spec. timm's: ``timm:<architecture>``. Others: where they come from and what they are like,
    e.g. ``torchvision:resnet50`` or ``MyNet (like bottleneck:3-4-6-3:c10)``; a backbone found inside
    another module says where (``… at backbone``)."""
    net = layout.backbone
    if isinstance(net, ResNet):
        name = net.config.spec
    else:
        library = type(net).__module__.split(".")[0]
        arch = getattr(net, "pretrained_cfg", {}).get("architecture") if library == "timm" else None
        if arch:
            name = f"timm:{arch}"
        elif library == "torchvision" and config is not None and preset_of(config) is not None:
            name = f"torchvision:{config.spec}"
        else:
            name = f"{type(net).__name__} (like {config.spec})" if config else type(net).__name__
    return f"{name} at {layout.path}" if layout.path else name


__all__ = ["infer_config", "model_label"]
