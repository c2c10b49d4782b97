"""What a traced model is: the plain ResNet config closest to it, and a name for it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from resnet import CifarResNet, ResNet, ResNetConfig
from resnet.presets import preset_of

OURS = (ResNet, CifarResNet)

if TYPE_CHECKING:
    from torch import nn

    from .layout import Layout
    from .records import BlockRecord, ModuleRecord

STAGE_PLANES = (64, 128, 256, 512)


def infer_config(layout: Layout, blocks: list[BlockRecord], head: ModuleRecord,
                 stem: ModuleRecord | None = None) -> ResNetConfig | None:
    """The ``ResNetConfig`` with the same block type, blocks per stage, groups, width, stride placement,
    dilation and classes; ``None`` where no config can say it (other stage widths, three stages, blocks of
    another shape). What a config cannot say (a deep stem, attention, an avg-pool shortcut) the records show."""
    net = layout.backbone
    if isinstance(net, OURS):
        return net.config
    if len(layout.stages) == 3 and blocks and stem is not None:
        return _cifar_config(stem, blocks, head)
    if len(layout.stages) != 4 or not blocks:
        return None
    first = blocks[0]
    kernels = tuple(c.kernel_size for c in first.convs)
    bottleneck = kernels == (1, 3, 1)
    if not bottleneck and kernels != (3, 3):
        return None
    expansion = 4 if bottleneck else 1
    planes = first.out_shape[0] // expansion
    three = first.convs[1] if bottleneck else first.convs[0]
    widths = [next(b for b in blocks if b.stage == s).out_shape[0] // expansion for s in range(1, 5)]
    if widths != [planes * 2 ** i for i in range(4)] or planes != STAGE_PLANES[0]:
        return None
    second = next(b for b in blocks if b.stage == 2)
    fc = [layer for layer in head.layers if layer.kind == "fc"]
    try:
        return ResNetConfig(
            block="bottleneck" if bottleneck else "basic",
            layers=tuple(sum(1 for b in blocks if b.stage == s) for s in range(1, 5)), groups=three.groups,
            width_per_group=first.width * 64 // (planes * three.groups),
            stride_in="v1" if bottleneck and second.convs[0].stride > 1 else "v1.5",
            replace_stride_with_dilation=tuple(
                [b for b in blocks if b.stage == s][-1].dilation > 1 for s in range(2, 5)),
            num_classes=fc[-1].out_shape[0] if fc and fc[-1].out_shape else 1000,
        )
    except (ValueError, TypeError):
        return None


def _cifar_config(stem: ModuleRecord, blocks: list[BlockRecord], head: ModuleRecord) -> ResNetConfig | None:
    """The CIFAR family's config (He et al. 2016, §4.2): a stem of one 3×3 conv at stride 1, BasicBlocks, widths
    w-2w-4w at strides 1-2-2, shortcut option A (the shape-changing blocks' shortcuts have no parameters), B
    (they project) or C (every block projects)."""
    convs = [layer for layer in stem.layers if layer.kind == "conv"]
    if [(c.kernel_size, c.stride) for c in convs] != [(3, 1)] or any("pool" in layer.kind for layer in stem.layers):
        return None
    if any(tuple(c.kernel_size for c in b.convs) != (3, 3) for b in blocks):
        return None
    if [next(b for b in blocks if b.stage == s).stride for s in (1, 2, 3)] != [1, 2, 2]:
        return None
    width = blocks[0].out_shape[0]
    if [next(b for b in blocks if b.stage == s).out_shape[0] for s in (1, 2, 3)] != [width, 2 * width, 4 * width]:
        return None
    changing = [b for b in blocks if b.in_shape != b.out_shape]
    projected = [b for b in blocks if b.downsample is not None and b.downsample.projection]
    if changing and all(b.downsample is not None and b.downsample.option_a for b in changing) and not projected:
        option = "A"
    elif len(projected) == len(blocks):
        option = "C"
    elif projected == changing:
        option = "B"
    else:
        return None
    fc = [layer for layer in head.layers if layer.kind == "fc"]
    try:
        return ResNetConfig(family="cifar", block="basic", layers=tuple(sum(1 for b in blocks if b.stage == s)
                                                                        for s in (1, 2, 3)),
                            base_width=width, shortcut=option,
                            num_classes=fc[-1].out_shape[0] if fc and fc[-1].out_shape else 10)
    except (ValueError, TypeError):
        return None


def model_label(model: nn.Module, layout: Layout, config: ResNetConfig | None) -> str:
    """Ours: the spec. timm's: ``timm:<architecture>``. Others: where they come from and what they are like,
    e.g. ``torchvision:resnet50`` or ``MyNet (like bottleneck:3-4-6-3:c10)``; a backbone found inside
    another module says where (``… at backbone``)."""
    net = layout.backbone
    if isinstance(net, OURS):
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
