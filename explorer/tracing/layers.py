"""Modules as layer records, and the two facts about modules the tracer needs: each subtree's parameters and
how much a module shrinks its input."""
from __future__ import annotations

from typing import Any

from torch import nn

from .layout import ACTIVATIONS, NORMS
from .records import LayerRecord, Shape


def module_layer(name: str, m: nn.Module, out_shape: Shape) -> LayerRecord:
    """A module as a layer record: what it is, and its kernel and stride where it has them."""
    def first(v: Any) -> int:
        return v if isinstance(v, int) else v[0]

    if isinstance(m, nn.Conv2d):
        return LayerRecord(name, "conv", out_shape, m.kernel_size[0], m.stride[0], m.dilation[0])
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "maxpool" if isinstance(m, nn.MaxPool2d) else "avgpool2d"
        return LayerRecord(name, kind, out_shape, first(m.kernel_size), first(m.stride or m.kernel_size),
                           first(getattr(m, "dilation", 1)))
    kinds = ((NORMS, "bn"), (ACTIVATIONS, "relu"), (nn.AdaptiveAvgPool2d, "avgpool"), (nn.Linear, "fc"),
             (nn.Flatten, "flatten"))
    kind = next((k for t, k in kinds if isinstance(m, t)), type(m).__name__)
    if kind == "relu" and not isinstance(m, nn.ReLU):
        kind = type(m).__name__  # SiLU, GELU...: named as they are
    stride = getattr(m, "stride", 1)
    kernel = getattr(m, "kernel_size", getattr(m, "filt_size", 1))  # filt_size: timm's BlurPool2d
    whole = (int, tuple)
    return LayerRecord(name, kind, out_shape, kernel_size=first(kernel) if isinstance(kernel, whole) else 1,
                       stride=first(stride) if isinstance(stride, whole) else 1)


def subtree_params(net: nn.Module) -> dict[str, int]:
    """Parameters of every module by name, its children's included, each parameter once (one walk of the
    tree; a parameter shared by two modules is counted once in each subtree that holds it)."""
    own: dict[str, dict[int, int]] = {}
    for name, m in net.named_modules(remove_duplicate=False):
        own[name] = {id(p): p.numel() for p in m._parameters.values() if p is not None}
    out: dict[str, dict[int, int]] = {name: {} for name in own}
    for name, params in own.items():
        path = name
        while True:
            out[path].update(params)
            if not path:
                break
            path = path.rsplit(".", 1)[0] if "." in path else ""
    return {name: sum(p.values()) for name, p in out.items()}


def stride_of(in_shape: Shape, out_shape: Shape) -> int:
    """How much a module shrinks its input (1 where the shapes have no spatial dimensions)."""
    return max(1, round(in_shape[1] / out_shape[1])) if len(in_shape) > 1 and len(out_shape) > 1 else 1


__all__ = ["module_layer", "stride_of", "subtree_params"]
