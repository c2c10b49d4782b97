"""``trace(model, x)``: one forward pass under hooks, turned into a ``Trace`` of records."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from .device import model_device, resolve_device
from .hooks import forward_hooks, running_on
from .identify import infer_config, model_label
from .layout import ACTIVATIONS, NORMS, Layout, find_layout, is_skippable
from .macs import module_macs, own_params
from .memory import MemoryProfile, measure_memory
from .meta import MetaOps
from .records import (ACTIVATION_NAMES, BlockRecord, ConvRecord, DownsampleRecord, LayerRecord, ModuleRecord, Shape,
                      StageRecord, Trace)

Seen = dict[str, tuple[Shape, Shape]]  # module name -> (input shape, output shape), per sample


def _leaves(root: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    """The modules under ``root`` that hold no others, in registration (forward) order, no-ops left out."""
    if not root._modules:
        return [(prefix, root)]
    return [(f"{prefix}.{n}", m) for n, m in root.named_modules() if n and not m._modules and not is_skippable(m)]


def _watched(layout: Layout, modules: dict[str, nn.Module]) -> list[str]:
    """Modules whose shapes the records need: stem and head parts and their leaves, blocks and their children,
    shortcuts and their leaves, and every leaf with parameters (for MACs)."""
    net = layout.backbone
    names = [*layout.stem, *layout.head]
    for n in (*layout.stem, *layout.head):
        names += [leaf for leaf, _ in _leaves(getattr(net, n), n)]
    for name, block in layout.blocks():
        names.append(name)
        # Activations are left out: pointwise, reused (one ReLU module runs three times), and shape-preserving.
        names += [f"{name}.{c}" for c, m in block.named_children() if not is_skippable(m) and not isinstance(m, ACTIVATIONS)]
        if getattr(block, "downsample", None) is not None:
            names += [leaf for leaf, _ in _leaves(block.downsample, f"{name}.downsample")]
    names += [n for n, m in modules.items() if n and not m._modules and own_params(m) > 0]
    return list(dict.fromkeys(names))


def _shape(t: Any) -> Shape:
    return tuple(t.shape[1:]) if isinstance(t, Tensor) else ()


def trace(
    model: nn.Module,
    x: Tensor | None = None,
    input_size: int = 224,
    device: str | torch.device | None = None,
    memory: bool = False,
    backbone: str | None = None,
) -> Trace:
    """Run a ResNet-family ``model`` once on ``x`` (default: zeros of ``input_size``) and record every block.

    Any module with a ResNet layout is accepted (ours, torchvision's, timm's, a copy; see ``layout``), or
    one that holds such a backbone, found automatically or named by ``backbone`` (a dotted path); the
    backbone is what runs. The model is left as it was: hooks removed (even if the forward raises),
    train/eval flags, device and parameters restored. ``device=None`` runs where the model already is; a
    model on the meta device is traced without allocating anything. ``memory=True`` adds what the model
    needs in memory (``Trace.memory``), measured by two more passes on the meta device.
    """
    layout = find_layout(model, backbone)
    net = layout.backbone
    target = model_device(net) if device is None else resolve_device(device)
    if x is None:
        x = torch.zeros(1, 3, input_size, input_size)
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"input must be N×3×H×W, got shape {tuple(x.shape)}")

    seen: Seen = {}

    def record(name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        # Shapes only: immutable, so the inplace ReLUs cannot alter what was recorded.
        seen[name] = (_shape(inputs[0]) if inputs else (), _shape(output))

    modules = dict(net.named_modules())
    fast_meta = MetaOps() if target.type == "meta" else nullcontext()
    with running_on(net, target), forward_hooks((n, modules[n], record) for n in _watched(layout, modules)), \
            fast_meta:
        out = net(x.to(target))
    profile = measure_memory(net, layout.parts(), tuple(x.shape[1:])) if memory else None
    return build_trace(model, layout, seen, tuple(x.shape[1:]), int(x.shape[0]), str(target), _shape(out),
                       modules, profile)


def _costs(model: nn.Module, seen: Seen) -> tuple[dict[str, int], dict[str, int]]:
    """Parameters and MACs of every module by name, its children's included ("" is the whole model), in one
    walk of the module tree."""
    params: dict[str, int] = {}
    macs: dict[str, int] = {}

    def visit(name: str, m: nn.Module) -> tuple[int, int]:
        p = own_params(m)
        c = module_macs(m, seen[name][1]) if p and not m._modules and name in seen else 0
        for child_name, child in m._modules.items():
            if child is not None:
                cp, cc = visit(f"{name}.{child_name}" if name else child_name, child)
                p, c = p + cp, c + cc
        params[name], macs[name] = p, c
        return p, c

    visit("", model)
    return params, macs


def _layer(name: str, m: nn.Module, out_shape: Shape) -> LayerRecord:
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


class _Records:
    """Records from what the hooks saw: shapes (``seen``), costs summed once, leaves looked up by name."""

    def __init__(self, net: nn.Module, seen: Seen, modules: dict[str, nn.Module]) -> None:
        self.seen, self.modules = seen, modules
        self.params, self.macs = _costs(net, seen)

    def layers(self, names: tuple[str, ...]) -> tuple[LayerRecord, ...]:
        """Every leaf under ``names``, in forward order, as it was seen."""
        return tuple(_layer(leaf, m, self.seen[leaf][1]) for n in names for leaf, m in _leaves(self.modules[n], n)
                     if leaf in self.seen)

    def part(self, name: str, names: tuple[str, ...]) -> ModuleRecord:
        return ModuleRecord(
            name=name, modules=names, in_shape=self.seen[names[0]][0], out_shape=self.seen[names[-1]][1],
            params=sum(self.params.get(n, 0) for n in names), macs=sum(self.macs.get(n, 0) for n in names),
            layers=self.layers(names),
        )

    def shortcut(self, name: str) -> DownsampleRecord:
        ds_name = f"{name}.downsample"
        ds_in, ds_out = self.seen[ds_name]
        return DownsampleRecord(name=ds_name, in_shape=ds_in, out_shape=ds_out, stride=_stride(ds_in, ds_out),
                                params=self.params[ds_name], macs=self.macs[ds_name], layers=self.layers((ds_name,)))

    def block(self, name: str, block: nn.Module, stage: int) -> BlockRecord:
        seen = self.seen
        convs = tuple(
            ConvRecord(name=c, in_channels=m.in_channels, out_channels=m.out_channels, kernel_size=m.kernel_size[0],
                       stride=m.stride[0], groups=m.groups, dilation=m.dilation[0], out_shape=seen[f"{name}.{c}"][1])
            for c, m in block.named_children() if isinstance(m, nn.Conv2d)
        )
        branch = tuple(_layer(f"{name}.{c}", m, seen[f"{name}.{c}"][1]) for c, m in block.named_children()
                       if c not in ("downsample", "drop_path") and not is_skippable(m) and f"{name}.{c}" in seen)
        extras = tuple(layer for layer in branch if layer.kind not in ("conv", "bn", "relu", *ACTIVATION_NAMES))
        in_shape, out_shape = seen[name]
        width = block.conv1.out_channels
        return BlockRecord(
            name=name, stage=stage, index=int(name.split(".")[1]), block_type=type(block).__name__,
            in_shape=in_shape, out_shape=out_shape, convs=convs, stride=_stride(in_shape, out_shape),
            dilation=max(c.dilation for c in convs), width=width,
            expansion=getattr(block, "expansion", max(1, out_shape[0] // width)),
            downsample=self.shortcut(name) if getattr(block, "downsample", None) is not None else None,
            params=self.params[name], macs=self.macs[name], extras=extras, branch=branch,
        )


def build_trace(model: nn.Module, layout: Layout, seen: Seen, input_shape: Shape, batch: int, device: str,
                output_shape: Shape, modules: dict[str, nn.Module] | None = None,
                memory: MemoryProfile | None = None) -> Trace:
    """Turn observed shapes into records; pure bookkeeping, no tensors."""
    net = layout.backbone
    r = _Records(net, seen, dict(net.named_modules()) if modules is None else modules)
    blocks = [r.block(name, block, layout.stages.index(name.split(".")[0]) + 1) for name, block in layout.blocks()]
    stem, head = r.part("stem", layout.stem), r.part("head", layout.head)
    config = infer_config(layout)
    return Trace(
        model_name=model_label(model, layout, config), config=config, input_shape=input_shape, batch_size=batch,
        device=device, stem=stem, blocks=tuple(blocks), head=head, output_shape=output_shape,
        total_params=r.params[""], total_macs=stem.macs + head.macs + sum(b.macs for b in blocks),
        stages=tuple(_stages(layout, blocks)), memory=memory,
    )


def _stride(in_shape: Shape, out_shape: Shape) -> int:
    """How much a module shrinks its input (1 where the shapes have no spatial dimensions)."""
    return max(1, round(in_shape[1] / out_shape[1])) if len(in_shape) > 1 and len(out_shape) > 1 else 1


def _stages(layout: Layout, blocks: list[BlockRecord]) -> list[StageRecord]:
    out = []
    for stage, name in enumerate(layout.stages, start=1):
        members = [b for b in blocks if b.stage == stage]
        out.append(StageRecord(
            name=name, stage=stage, block_type=members[0].block_type, blocks=len(members),
            in_shape=members[0].in_shape, out_shape=members[-1].out_shape, stride=members[0].stride,
            params=sum(b.params for b in members), macs=sum(b.macs for b in members),
        ))
    return out
