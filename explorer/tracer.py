"""``trace(model, x)``: one forward pass under hooks, turned into a ``Trace`` of records."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from resnet import STAGE_NAMES, ResNet, is_block

from .hooks import forward_hooks, running_on
from .macs import module_macs, own_params
from .records import BlockRecord, ConvRecord, DownsampleRecord, ModuleRecord, Shape, StageRecord, Trace

STEM_MODULES = ("conv1", "bn1", "relu", "maxpool")
HEAD_MODULES = ("avgpool", "fc")


DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"`` -> CUDA when present, else MPS when present, else CPU."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in DEVICE_TYPES:
        raise ValueError(f"device must be auto, {', '.join(DEVICE_TYPES)} (or cuda:N), got {str(device)!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was requested but Apple's MPS backend is not available here")
    return dev


def model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _watched(model: ResNet) -> list[tuple[str, nn.Module]]:
    """Modules whose shapes the records need: blocks, shortcuts, pools and every leaf with parameters."""
    out = []
    for name, m in model.named_modules():
        if not name:
            continue
        if is_block(m) or name.endswith(".downsample") or name in ("maxpool", "avgpool") or (
            len(m._modules) == 0 and own_params(m) > 0
        ):
            out.append((name, m))
    return out


def _shape(t: Any) -> Shape:
    return tuple(t.shape[1:]) if isinstance(t, Tensor) else ()


def trace(
    model: ResNet,
    x: Tensor | None = None,
    input_size: int = 224,
    device: str | torch.device | None = None,
) -> Trace:
    """Run ``model`` once on ``x`` (default: zeros of ``input_size``) and record every block.

    The model is left as it was: hooks removed (even if the forward raises), train/eval flags,
    device and parameters restored. ``device=None`` runs where the model already is.
    """
    if not isinstance(model, ResNet):
        raise TypeError(f"trace() needs a resnet.ResNet, got {type(model).__name__}")
    home = model_device(model)
    target = home if device is None else resolve_device(device)
    if x is None:
        x = torch.zeros(1, 3, input_size, input_size)
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"input must be N×3×H×W, got shape {tuple(x.shape)}")

    seen: dict[str, tuple[Shape, Shape]] = {}

    def record(name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        # Shapes only: immutable, so the inplace ReLUs cannot alter what was recorded.
        seen[name] = (_shape(inputs[0]) if inputs else (), _shape(output))

    with running_on(model, target), forward_hooks(_watched(model), record):
        out = model(x.to(target))
    return build_trace(model, seen, tuple(x.shape[1:]), int(x.shape[0]), str(target), _shape(out))


def build_trace(
    model: ResNet, seen: dict[str, tuple[Shape, Shape]], input_shape: Shape, batch: int, device: str, output_shape: Shape
) -> Trace:
    """Turn observed shapes into records; pure bookkeeping, no tensors."""
    modules = dict(model.named_modules())
    # One pass: each module's own parameters and MACs, added to every ancestor ("layer2.0.conv1" counts
    # for "layer2.0" and "layer2").
    params: dict[str, int] = {}
    macs: dict[str, int] = {}
    total_params = 0
    for name, m in modules.items():
        own = own_params(m)
        total_params += own
        cost = module_macs(m, seen[name][1]) if own and not m._modules and name in seen else 0
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            params[prefix] = params.get(prefix, 0) + own
            macs[prefix] = macs.get(prefix, 0) + cost

    def run(name: str, names: tuple[str, ...]) -> ModuleRecord:
        watched = [n for n in names if n in seen]
        return ModuleRecord(
            name=name, modules=names, in_shape=seen[watched[0]][0], out_shape=seen[watched[-1]][1],
            params=sum(params.get(n, 0) for n in names), macs=sum(macs.get(n, 0) for n in names),
        )

    blocks: list[BlockRecord] = []
    for stage, stage_name in enumerate(STAGE_NAMES, start=1):
        for index, block in enumerate(modules[stage_name]):
            name = f"{stage_name}.{index}"
            convs = tuple(
                ConvRecord(
                    name=cname, in_channels=conv.in_channels, out_channels=conv.out_channels,
                    kernel_size=conv.kernel_size[0], stride=conv.stride[0], groups=conv.groups,
                    dilation=conv.dilation[0], out_shape=seen[f"{name}.{cname}"][1],
                )
                for cname, conv in block.named_children()
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
                name=name, stage=stage, index=index, block_type=type(block).__name__,
                in_shape=seen[name][0], out_shape=seen[name][1], convs=convs, stride=block.stride,
                dilation=max(c.dilation for c in convs), width=block.width, expansion=block.expansion,
                downsample=ds, params=params[name], macs=macs[name],
            ))
    stem = run("stem", STEM_MODULES)
    head = run("head", HEAD_MODULES)
    return Trace(
        model_name=model.config.slug, config=model.config.to_dict(), input_shape=input_shape, batch_size=batch,
        device=device, stem=stem, blocks=tuple(blocks), head=head, output_shape=output_shape,
        total_params=total_params,
        total_macs=stem.macs + head.macs + sum(b.macs for b in blocks),
        stages=tuple(_stages(blocks)),
    )


def _stages(blocks: list[BlockRecord]) -> list[StageRecord]:
    out = []
    for stage in range(1, len(STAGE_NAMES) + 1):
        members = [b for b in blocks if b.stage == stage]
        out.append(StageRecord(
            name=f"layer{stage}", stage=stage, block_type=members[0].block_type, blocks=len(members),
            in_shape=members[0].in_shape, out_shape=members[-1].out_shape, stride=members[0].stride,
            params=sum(b.params for b in members), macs=sum(b.macs for b in members),
        ))
    return out
