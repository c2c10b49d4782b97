"""What an op's arguments say, read once as the recorder sees each call: a convolution's or a pool's kernel,
stride and dilation, a convolution's channels, whether a reduction covers the spatial axes, a pad's fill."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from .ops import CONVS, FILLS, POOLS


@dataclass(frozen=True)
class Spatial:
    """What a convolution or a pool does to positions: kernel, stride and dilation (first spatial axis)."""

    kernel: int
    stride: int
    dilation: int = 1


@dataclass(frozen=True)
class Conv:
    """A convolution's channels and groups, and whether its weight is learned (a parameter, or computed from
    parameters as weight standardisation does) or a fixed filter (a blur)."""

    in_channels: int
    out_channels: int
    groups: int
    learned: bool


def first(v: Any, default: int = 1) -> int:
    if v is None or (isinstance(v, (tuple, list)) and not v):
        return default
    return int(v[0] if isinstance(v, (tuple, list)) else v)


def arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def spatial_of(name: str, args: tuple, kwargs: dict) -> Spatial | None:
    if name not in CONVS and name not in POOLS:
        return None
    if name in CONVS:
        weight = arg(args, kwargs, 1, "weight")
        transposed = name in ("convolution", "_convolution") and bool(arg(args, kwargs, 6, "transposed", False))
        if not isinstance(weight, Tensor) or weight.dim() < 3 or transposed:
            return None
        return Spatial(int(weight.shape[2]), first(arg(args, kwargs, 3, "stride")),
                       first(arg(args, kwargs, 5, "dilation")))
    if name in POOLS:
        kernel = first(arg(args, kwargs, 1, "kernel_size"))
        stride = first(arg(args, kwargs, 2, "stride"), kernel)
        dilation = first(arg(args, kwargs, 4, "dilation")) if name.startswith("max") else 1
        return Spatial(kernel, stride, dilation)
    return None


def over_space(name: str, args: tuple, kwargs: dict) -> bool:
    """Whether a reduction covers both spatial axes of a 4-D input (adaptive pools always do)."""
    x = args[0] if args else kwargs.get("input")
    if not isinstance(x, Tensor) or x.dim() != 4:
        return False
    if name.startswith(("adaptive", "_adaptive")):
        return True
    dims = arg(args, kwargs, 1, "dim")
    if dims is None:
        return name in ("mean", "sum", "amax", "std", "var")  # a reduction over everything
    dims = {int(d) % 4 for d in (dims if isinstance(dims, (tuple, list)) else (dims,))}
    return {2, 3} <= dims




def pad_fill(name: str, args: tuple, kwargs: dict) -> float:
    value = arg(args, kwargs, FILLS[name], "value")
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


__all__ = ["Conv", "Spatial", "arg", "first", "over_space", "pad_fill", "spatial_of"]
