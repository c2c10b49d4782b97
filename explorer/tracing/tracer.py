"""``trace(model, x)``: one forward pass under hooks, turned into a ``Trace`` of records."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from resnet import ResNet, is_block

from .device import model_device, resolve_device
from .hooks import forward_hooks, running_on
from .macs import module_macs, own_params
from .memory import MemoryProfile, measure_memory, resnet_parts
from .meta import MetaOps
from .records import BlockRecord, ConvRecord, DownsampleRecord, LayerRecord, ModuleRecord, Shape, StageRecord, Trace

Seen = dict[str, tuple[Shape, Shape]]  # module name -> (input shape, output shape), per sample


def _watched(model: ResNet, modules: dict[str, nn.Module]) -> list[str]:
    """Modules whose shapes the records need: the stem and head, blocks, shortcuts and every leaf with parameters."""
    named = set(model.STEM) | set(model.HEAD)
    return [name for name, m in modules.items() if name and (
        name in named or is_block(m) or name.endswith(".downsample") or (not m._modules and own_params(m) > 0))]


def _shape(t: Any) -> Shape:
    return tuple(t.shape[1:]) if isinstance(t, Tensor) else ()


def trace(
    model: ResNet,
    x: Tensor | None = None,
    input_size: int = 224,
    device: str | torch.device | None = None,
    memory: bool = False,
) -> Trace:
    """Run ``model`` once on ``x`` (default: zeros of ``input_size``) and record every block.

    The model is left as it was: hooks removed (even if the forward raises), train/eval flags,
    device and parameters restored. ``device=None`` runs where the model already is; a model on the
    meta device is traced without allocating anything. ``memory=True`` adds what the model needs in
    memory (``Trace.memory``), measured by two more passes on the meta device.
    """
    if not isinstance(model, ResNet):
        raise TypeError(f"trace() needs a resnet.ResNet, got {type(model).__name__}")
    target = model_device(model) if device is None else resolve_device(device)
    if x is None:
        x = torch.zeros(1, 3, input_size, input_size)
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"input must be N×3×H×W, got shape {tuple(x.shape)}")

    seen: Seen = {}

    def record(name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        # Shapes only: immutable, so the inplace ReLUs cannot alter what was recorded.
        seen[name] = (_shape(inputs[0]) if inputs else (), _shape(output))

    modules = dict(model.named_modules())
    fast_meta = MetaOps() if target.type == "meta" else nullcontext()
    with running_on(model, target), forward_hooks((n, modules[n], record) for n in _watched(model, modules)), \
            fast_meta:
        out = model(x.to(target))
    profile = measure_memory(model, resnet_parts(model), tuple(x.shape[1:])) if memory else None
    return build_trace(model, seen, tuple(x.shape[1:]), int(x.shape[0]), str(target), _shape(out), modules, profile)


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
    if isinstance(m, nn.Conv2d):
        return LayerRecord(name, "conv", out_shape, m.kernel_size[0], m.stride[0], m.dilation[0])
    if isinstance(m, nn.MaxPool2d):
        k, s, d = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.stride, m.dilation))
        return LayerRecord(name, "maxpool", out_shape, k, s, d)
    kinds = ((nn.BatchNorm2d, "bn"), (nn.ReLU, "relu"), (nn.AdaptiveAvgPool2d, "avgpool"), (nn.Linear, "fc"))
    return LayerRecord(name, next((k for t, k in kinds if isinstance(m, t)), type(m).__name__.lower()), out_shape)


def build_trace(model: ResNet, seen: Seen, input_shape: Shape, batch: int, device: str, output_shape: Shape,
                modules: dict[str, nn.Module] | None = None, memory: MemoryProfile | None = None) -> Trace:
    """Turn observed shapes into records; pure bookkeeping, no tensors."""
    modules = dict(model.named_modules()) if modules is None else modules
    params, macs = _costs(model, seen)

    def part(name: str, names: tuple[str, ...]) -> ModuleRecord:
        return ModuleRecord(
            name=name, modules=names, in_shape=seen[names[0]][0], out_shape=seen[names[-1]][1],
            params=sum(params.get(n, 0) for n in names), macs=sum(macs.get(n, 0) for n in names),
            layers=tuple(_layer(n, modules[n], seen[n][1]) for n in names),
        )

    blocks: list[BlockRecord] = []
    for name, block in model.named_blocks():
        stage_name, index = name.split(".")
        convs = tuple(
            ConvRecord(
                name=cname, in_channels=conv.in_channels, out_channels=conv.out_channels,
                kernel_size=conv.kernel_size[0], stride=conv.stride[0], groups=conv.groups,
                dilation=conv.dilation[0], out_shape=seen[f"{name}.{cname}"][1],
            )
            for cname, conv in block._modules.items()
            if isinstance(conv, nn.Conv2d)
        )
        ds = None
        if block.downsample is not None:
            ds_name = f"{name}.downsample"
            ds = DownsampleRecord(
                name=ds_name, in_shape=seen[ds_name][0], out_shape=seen[ds_name][1],
                stride=block.downsample[0].stride[0], params=params[ds_name], macs=macs[ds_name],
            )
        blocks.append(BlockRecord(
            name=name, stage=model.STAGES.index(stage_name) + 1, index=int(index), block_type=type(block).__name__,
            in_shape=seen[name][0], out_shape=seen[name][1], convs=convs, stride=block.stride,
            dilation=max(c.dilation for c in convs), width=block.width, expansion=block.expansion,
            downsample=ds, params=params[name], macs=macs[name],
        ))
    stem, head = part("stem", model.STEM), part("head", model.HEAD)
    return Trace(
        model_name=model.config.spec, config=model.config, input_shape=input_shape, batch_size=batch,
        device=device, stem=stem, blocks=tuple(blocks), head=head, output_shape=output_shape,
        total_params=params[""],
        total_macs=stem.macs + head.macs + sum(b.macs for b in blocks),
        stages=tuple(_stages(model, blocks)), memory=memory,
    )


def _stages(model: ResNet, blocks: list[BlockRecord]) -> list[StageRecord]:
    out = []
    for stage, name in enumerate(model.STAGES, start=1):
        members = [b for b in blocks if b.stage == stage]
        out.append(StageRecord(
            name=name, stage=stage, block_type=members[0].block_type, blocks=len(members),
            in_shape=members[0].in_shape, out_shape=members[-1].out_shape, stride=members[0].stride,
            params=sum(b.params for b in members), macs=sum(b.macs for b in members),
        ))
    return out
