"""Finding the ResNet in a module by its structure, not its class: ours, torchvision's, timm's, a user's copy,
or one held inside a bigger model (``model.backbone``).

A ResNet-family module has four stages (``nn.Sequential``s of residual blocks: modules with ``Conv2d`` children
``conv1`` and ``conv2``, optionally ``conv3`` and a ``downsample``), a stem (the children before the first
stage) and a head (the children after the last). Everything else a block holds (SE/ECA attention, blur pool,
drop-path) is recorded as it is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from torch import nn

STAGE_COUNT = 4
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.LeakyReLU, nn.Hardswish, nn.Mish, nn.ELU, nn.PReLU)
NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)
EXPECTED = ("a ResNet-family module: four stages (nn.Sequential) of residual blocks with Conv2d children conv1 and "
            "conv2 (conv3 for Bottleneck) and an optional downsample, as in torchvision's or timm's ResNet")


class NotAResNet(TypeError):
    """The module has no ResNet layout; the message says what was expected and what was found."""


def is_residual_block(m: nn.Module) -> bool:
    return isinstance(getattr(m, "conv1", None), nn.Conv2d) and isinstance(getattr(m, "conv2", None), nn.Conv2d)


def is_stage(m: nn.Module) -> bool:
    return isinstance(m, nn.Sequential) and len(m) > 0 and all(is_residual_block(b) for b in m)


def is_skippable(m: nn.Module | None) -> bool:
    """Children that do nothing in inference and are not worth a record (timm's unused attention, drop-block)."""
    return m is None or isinstance(m, (nn.Identity, nn.Dropout))


@dataclass(frozen=True)
class Layout:
    """Where a ResNet-family module keeps its parts (names relative to ``backbone``)."""

    backbone: nn.Module
    path: str  # where the backbone sits in the module it was found in ("" = that module itself)
    stem: tuple[str, ...]
    stages: tuple[str, ...]
    head: tuple[str, ...]

    def blocks(self) -> Iterator[tuple[str, nn.Module]]:
        """``("layer2.0", block)`` for every residual block, in forward order."""
        for stage in self.stages:
            for index, block in enumerate(getattr(self.backbone, stage)):
                yield f"{stage}.{index}", block

    def parts(self) -> list[tuple[str, tuple[nn.Module, ...]]]:
        """The stem, every block and the head, each with the modules whose forward belongs to it."""
        def modules(names: tuple[str, ...]) -> tuple[nn.Module, ...]:
            return tuple(getattr(self.backbone, n) for n in names)

        return [("stem", modules(self.stem)), *((n, (b,)) for n, b in self.blocks()), ("head", modules(self.head))]


def _layout_of(module: nn.Module, path: str) -> Layout | None:
    children = [(n, m) for n, m in module.named_children() if not is_skippable(m)]
    stage_at = [i for i, (_, m) in enumerate(children) if is_stage(m)]
    if len(stage_at) != STAGE_COUNT or stage_at != list(range(stage_at[0], stage_at[0] + STAGE_COUNT)):
        return None
    names = [n for n, _ in children]
    first, last = stage_at[0], stage_at[-1]
    return Layout(module, path, tuple(names[:first]), tuple(names[first:last + 1]), tuple(names[last + 1:]))


def find_layout(model: nn.Module, backbone: str | None = None) -> Layout:
    """The ResNet layout of ``model``, or of the first submodule that has one (breadth-first), or of the
    submodule at the dotted path ``backbone``; NotAResNet otherwise, saying what was expected."""
    if not isinstance(model, nn.Module):
        raise NotAResNet(f"expected {EXPECTED}; got a {type(model).__name__}, not an nn.Module")
    if backbone:
        try:
            sub = model.get_submodule(backbone)
        except AttributeError:
            raise NotAResNet(f"{type(model).__name__} has no submodule {backbone!r}") from None
        layout = _layout_of(sub, backbone)
        if layout is None:
            raise NotAResNet(f"{backbone!r} ({type(sub).__name__}) is not {EXPECTED}")
        return layout
    queue = [("", model)]
    while queue:
        path, module = queue.pop(0)
        layout = _layout_of(module, path)
        if layout is not None:
            return layout
        queue += [(f"{path}.{n}" if path else n, m) for n, m in module.named_children()]
    stages = sum(1 for m in model.modules() if is_stage(m))
    found = f"found {stages} stage(s) of residual blocks" if stages else "found no stage of residual blocks"
    raise NotAResNet(f"expected {EXPECTED}; {type(model).__name__} is not one ({found})")


def residual_end(block: nn.Module) -> nn.Module:
    """The module whose output is the residual branch F(x), just before ``+ shortcut``: the last child after
    the convolutions that is not an activation, the shortcut or a no-op (``bn3``; ``se`` where there is one)."""
    end = None
    for name, m in block.named_children():
        if name in ("downsample", "drop_path") or is_skippable(m) or isinstance(m, ACTIVATIONS):
            continue
        end = m
    if end is None:
        raise NotAResNet(f"cannot tell where the residual branch of this {type(block).__name__} ends")
    return end


__all__ = ["Layout", "NotAResNet", "find_layout", "is_residual_block", "is_stage", "residual_end"]
