"""Records the tracer fills from forward hooks; every view (table, graph, plot, export) reads these.

Shapes are per sample, ``(C, H, W)``; MACs are per image, in torchinfo's convention.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from resnet import ResNetConfig

from .profile import MemoryProfile

Shape = tuple[int, ...]
# The activation layers a block's branch may hold, by class name (layout.ACTIVATIONS are the classes; a test
# keeps the two in step): views skip them, as they skip ReLU, when they draw a branch.
ACTIVATION_NAMES = frozenset({"ReLU", "ReLU6", "SiLU", "GELU", "LeakyReLU", "Hardswish", "Mish", "ELU", "PReLU"})


def format_shape(shape: Shape) -> str:
    """``(256, 56, 56)`` -> ``256×56×56``."""
    return "×".join(str(d) for d in shape)


@dataclass(frozen=True)
class FieldRecord:
    """The receptive field at a tensor: the side of the input square that can reach one of its positions
    through the convolutions and pools that ran, and the input pixels per position (the output stride)."""

    size: int
    stride: int
    global_context: bool = False  # after a layer that sees the whole input (SE / ECA attention pools globally)
    walked: bool = True  # False: an op the walk cannot follow (a resize) came before; ``size`` is not known


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
class LayerRecord:
    """One module of the stem or the head, in forward order: what it is and the shape it produced."""

    name: str  # the module's name in the model, e.g. "conv1", "maxpool", "layer2.0.se"
    kind: str  # "conv", "bn", "relu", "maxpool", "avgpool2d", "avgpool" (global), "fc", or the class name
    # of anything else (SEModule, EcaModule, BlurPool2d, DropPath, SiLU...)
    out_shape: Shape
    kernel_size: int = 1
    stride: int = 1
    dilation: int = 1

    @property
    def label(self) -> str:
        """``7×7 conv s2``, ``BN``, ``ReLU``, ``3×3 maxpool s2``, ``2×2 avgpool s2``, ``global avgpool``, ``fc``,
        ``SEModule``, ``BlurPool2d s2``."""
        strided = f" s{self.stride}" if self.stride != 1 else ""
        if self.kind in ("conv", "maxpool", "avgpool2d"):
            return f"{self.kernel_size}×{self.kernel_size} {self.kind.replace('2d', '')}{strided}"
        return {"bn": "BN", "relu": "ReLU", "avgpool": "global avgpool"}.get(self.kind, self.kind + strided)


@dataclass(frozen=True)
class DownsampleRecord:
    """The shortcut of a block that changes shape: a projection, 1×1 conv (with the stage's stride) + BN, or what
    the model uses instead (ResNet-D: 2×2 avg pool s2 + 1×1 conv + BN); or a parameter-free one, named by its
    ops (the CIFAR family's option A: subsample s2 + zero-pad 16→32 channels)."""

    name: str  # state-dict prefix, e.g. "layer2.0.downsample"
    in_shape: Shape
    out_shape: Shape
    stride: int
    params: int
    macs: int
    layers: tuple[LayerRecord, ...] = ()

    @property
    def projection(self) -> bool:
        """Whether it learns (a projection), rather than reshaping x with fixed ops (option A)."""
        return self.params > 0

    @property
    def word(self) -> str:
        """``projection``, ``option A`` or ``parameter-free``: what views call this shortcut."""
        return "projection" if self.projection else "option A" if self.option_a else "parameter-free"

    @property
    def kind(self) -> str:
        """``1×1 conv s2 + BN``, ``1×1 conv s1 + BN`` (channels only), ``2×2 avgpool s2 + 1×1 conv s1 + BN``,
        ``subsample s2 + zero-pad 16→32 channels (option A)``."""
        text = " + ".join(layer.label + (" s1" if layer.kind == "conv" and layer.stride == 1 else "")
                          for layer in self.layers) or f"s{self.stride}"
        return text + " (option A)" if self.option_a else text

    @property
    def option_a(self) -> bool:
        """Subsample, then zero-pad channels, nothing else: He et al. 2016's option A."""
        kinds = [layer.kind for layer in self.layers]
        return len(kinds) == 2 and kinds[0] == "subsample" and kinds[1].startswith("zero-pad ")

    @property
    def label(self) -> str:
        return f"{'downsample' if self.projection else 'shortcut'}: {self.kind}, " \
               f"{format_shape(self.in_shape)} → {format_shape(self.out_shape)}"


@dataclass(frozen=True)
class BlockRecord:
    """One residual block as observed: shapes, inner convs, shortcut and cost."""

    name: str  # the block's module under the backbone, e.g. "layer2.0" (or its addition's, in an ONNX graph)
    stage: int  # 1.., in forward order
    index: int  # position within its stage
    block_type: str  # the block's class: "BasicBlock", "Bottleneck", "PreActBottleneck", "ResNetBottleNeckLayer"
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
    extras: tuple[LayerRecord, ...] = ()  # what the block holds beyond convs, norms and activations (SE, blur...)
    branch: tuple[LayerRecord, ...] = ()  # the residual branch F(x), every layer in forward order
    stage_name: str = ""  # the stage's container ("layer2", "stages.1"), or "stage2" where there is none
    after: tuple[LayerRecord, ...] = ()  # what follows the sum (a ReLU; nothing in a pre-activation block)
    receptive: FieldRecord | None = None  # the receptive field at the block's output


@dataclass(frozen=True)
class ModuleRecord:
    """A run of modules outside the stages: the stem or the head."""

    name: str
    modules: tuple[str, ...]
    in_shape: Shape
    out_shape: Shape
    params: int
    macs: int
    layers: tuple[LayerRecord, ...] = ()
    receptive: FieldRecord | None = None  # the receptive field at its output

    @property
    def label(self) -> str:
        """``7×7 conv s2 + BN + ReLU + 3×3 maxpool s2``."""
        return " + ".join(layer.label for layer in self.layers)


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

    model_name: str  # the model spec ("resnet50", "bottleneck:3-4-6-3:32x4d"), or "timm:resnet50d", ...
    config: ResNetConfig | None  # the plain ResNet config closest to the model (None where none can say it)
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
    memory: MemoryProfile | None = None  # what the model needs in memory, per sample (``trace(memory=True)``)
    backbone: str = ""  # where the traced backbone sits in the model ("": the model itself; block names are under it)

    def _repr_html_(self) -> str:
        """Jupyter shows a trace as its block table and totals (the IPython display protocol)."""
        from ..structure.tables import trace_html  # views stay out of the records' imports

        return trace_html(self)

    def block(self, name: str) -> BlockRecord:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no block named {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (tuples become lists); ``config`` carries its ``spec`` too, ``memory`` the
        totals and every part for one image (``MemoryProfile.to_dict``)."""
        d = asdict(self)
        if self.config is not None:
            d["config"]["spec"] = self.config.spec
        d["memory"] = self.memory.to_dict() if self.memory else None
        return d
