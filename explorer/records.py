"""Records the tracer fills from forward hooks; every view (table, graph, plot, export) reads these.

Shapes are per sample, ``(C, H, W)``; MACs are per image, in torchinfo's convention.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Shape = tuple[int, ...]


def format_shape(shape: Shape) -> str:
    """``(256, 56, 56)`` -> ``256×56×56``."""
    return "×".join(str(d) for d in shape)


@dataclass(frozen=True)
class ConvRecord:
    """One convolution inside a block, with the output shape observed in the forward pass."""

    name: str  # relative to its block, e.g. "conv2"
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    groups: int
    dilation: int
    out_shape: Shape


@dataclass(frozen=True)
class DownsampleRecord:
    """The projection shortcut of a block: 1x1 conv (with the stage's stride) + BN."""

    name: str  # state-dict prefix, e.g. "layer2.0.downsample"
    in_shape: Shape
    out_shape: Shape
    stride: int
    params: int
    macs: int

    @property
    def label(self) -> str:
        return (f"downsample: 1×1 conv s{self.stride} + BN, "
                f"{format_shape(self.in_shape)} → {format_shape(self.out_shape)}")


@dataclass(frozen=True)
class BlockRecord:
    """One residual block as observed: shapes, inner convs, shortcut and cost."""

    name: str  # e.g. "layer2.0"
    stage: int  # 1..4
    index: int  # position within its stage
    block_type: str  # "BasicBlock" or "Bottleneck"
    in_shape: Shape
    out_shape: Shape
    convs: tuple[ConvRecord, ...]
    stride: int
    dilation: int
    width: int  # channels inside the residual branch (bottleneck width)
    expansion: int
    downsample: DownsampleRecord | None
    params: int
    macs: int

    @property
    def stage_name(self) -> str:
        return f"layer{self.stage}"


@dataclass(frozen=True)
class ModuleRecord:
    """A run of modules outside the stages: the stem or the head."""

    name: str
    modules: tuple[str, ...]
    in_shape: Shape
    out_shape: Shape
    params: int
    macs: int


@dataclass(frozen=True)
class StageRecord:
    """A stage summarised from its blocks."""

    name: str
    stage: int
    block_type: str
    blocks: int
    in_shape: Shape
    out_shape: Shape
    stride: int
    params: int
    macs: int


@dataclass(frozen=True)
class Trace:
    """Everything one traced forward pass showed about a ResNet."""

    model_name: str
    config: dict[str, Any]
    input_shape: Shape
    batch_size: int
    device: str
    stem: ModuleRecord
    blocks: tuple[BlockRecord, ...]
    head: ModuleRecord
    output_shape: Shape
    total_params: int
    total_macs: int
    stages: tuple[StageRecord, ...] = field(default=())

    def block(self, name: str) -> BlockRecord:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no block named {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (tuples become lists)."""
        return asdict(self)
