"""The block inspector: one block as the code that builds it and everything the trace knows about it.

The code is written as torchvision and the reference notes write it: the stage's ``_make_layer(block, planes,
blocks, stride)`` call and the block's own constructor with the actual values, which rebuilds a module with the
block's parameter shapes (the tests build it). A model whose blocks torchvision's constructors cannot build (timm's,
your own) shows its module's own ``repr`` when the module is at hand.
"""
from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass, field

from torch import nn

from resnet.model import STAGE_PLANES, STAGE_STRIDES

from ..tracing.records import BlockRecord, Trace, format_shape
from .analysis import ratio_reason, receptive_fields

@dataclass(frozen=True)
class PathStep:
    """One convolution of the residual branch, with what comes out of it."""

    name: str  # "conv1"
    what: str  # "1×1 conv 256→128 (reduce)"
    out_shape: str


@dataclass(frozen=True)
class Inspection:
    block: str
    title: str  # "layer2.0 · Bottleneck · projection shortcut"
    code: str  # Python: the stage's _make_layer call and the block's constructor, or the module's repr
    code_kind: str  # "constructor" or "repr" or "summary"
    path: tuple[PathStep, ...]
    width: int
    out_channels: int
    ratio_text: str  # out : width and why
    shortcut: str  # identity / projection, and why
    params: int
    params_share: float
    macs: int
    macs_share: float
    receptive_field: int
    output_stride: int
    global_context: bool
    activations: dict[str, str] = field(default_factory=dict)  # filled once an image has been run


def _torchvision_like(t: Trace) -> bool:
    """Whether torchvision's ``BasicBlock`` / ``Bottleneck`` constructors build this model's blocks: a plain
    config, plain blocks (convs, norms, ReLU) and 1×1-conv projections."""
    if t.config is None or t.model_name.startswith(("timm:", "onnx:", "export:", "hf:")):
        return False
    return all(b.block_type in ("BasicBlock", "Bottleneck") and not b.extras and (b.downsample is None or [x.kind for x in b.downsample.layers] == ["conv", "bn"])
               for b in t.blocks) and t.stem.label.startswith("7×7 conv s2")


def _cifar_like(t: Trace) -> bool:
    """The CIFAR family's layout (``resnet.cifar``, the public CIFAR code): its constructor builds the blocks."""
    return (t.config is not None and t.config.cifar and t.stem.label.startswith("3×3 conv")
            and all(b.block_type == "BasicBlock" and not b.extras for b in t.blocks))


def cifar_block_code(t: Trace, b: BlockRecord) -> str:
    """The stage's ``_make_layer`` call and ``BasicBlock(in_planes, planes, stride, option)`` as the public CIFAR
    code writes them, with what the shortcut computes."""
    c = t.config
    assert c is not None
    planes, stride = c.stage_widths[b.stage - 1], 1 if b.stage == 1 else 2
    args: list[tuple[str, object]] = [("in_planes", b.in_shape[0]), ("planes", planes)]
    if b.stride != 1:
        args.append(("stride", b.stride))
    args.append(("option", c.shortcut))
    shortcut = (f"# shortcut: {b.downsample.kind}" if b.downsample is not None
                else "# shortcut: identity (nn.Sequential())")
    return (f"# {b.stage_name} = self._make_layer(BasicBlock, planes={planes}, num_blocks="
            f"{t.stages[b.stage - 1].blocks}, stride={stride}, option={c.shortcut!r})\n"
            f"# {b.name}: block {b.index} of {t.stages[b.stage - 1].blocks} in {b.stage_name}"
            f"{' (the first: it changes shape)' if b.index == 0 and b.in_shape != b.out_shape else ''}\n"
            f"{shortcut}\n"
            f"BasicBlock({_kwargs(args)})")


def _kwargs(pairs: list[tuple[str, object]]) -> str:
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in pairs)


def block_code(t: Trace, b: BlockRecord) -> str:
    """``_make_layer`` of the block's stage and the block's constructor with its values (torchvision-like only)."""
    c = t.config
    assert c is not None
    planes = STAGE_PLANES[b.stage - 1]
    stride = STAGE_STRIDES[b.stage - 1]
    dilate = b.stage > 1 and c.replace_stride_with_dilation[b.stage - 2]
    layer_args = [("planes", planes), ("blocks", t.stages[b.stage - 1].blocks), ("stride", stride)]
    if dilate:
        layer_args.append(("dilate", True))
    args: list[tuple[str, object]] = [("inplanes", b.in_shape[0]), ("planes", planes)]
    if b.stride != 1:
        args.append(("stride", b.stride))
    if b.downsample is not None:
        out = b.out_shape[0]
        s = f", stride={b.downsample.stride}" if b.downsample.stride != 1 else ""
        args.append(("downsample", _Raw(f"nn.Sequential(conv1x1({b.in_shape[0]}, {out}{s}), nn.BatchNorm2d({out}))")))
    if c.groups != 1:
        args.append(("groups", c.groups))
    if c.width_per_group != 64:
        args.append(("base_width", c.width_per_group))
    if b.dilation != 1:
        args.append(("dilation", b.dilation))
    if c.stride_in != "v1.5":
        args.append(("stride_in", c.stride_in))
    block = b.block_type
    call = f"{block}({_kwargs(args)})"
    if len(call) > 72:  # one argument group per line: shape, shortcut, the 3×3's grouping
        shape = [a for a in args if a[0] in ("inplanes", "planes", "stride")]
        rest = [a for a in args if a[0] not in ("inplanes", "planes", "stride", "downsample")]
        lines = [_kwargs(shape)] + [_kwargs([a]) for a in args if a[0] == "downsample"] + ([_kwargs(rest)] if rest else [])
        call = f"{block}(\n" + "".join(f"    {line},\n" for line in lines) + ")"
    return (f"# {b.stage_name} = self._make_layer({block}, {_kwargs(layer_args)})\n"
            f"# {b.name}: block {b.index} of {t.stages[b.stage - 1].blocks} in {b.stage_name}"
            f"{' (the first: it changes shape)' if b.index == 0 else ''}\n"
            f"{call}")


class _Raw(str):
    """A value written as code, not as a string literal."""

    def __repr__(self) -> str:
        return str(self)


_ROLES = {"Bottleneck": ("reduce", "spatial", "expand"), "BasicBlock": ("", "")}


def _path(b: BlockRecord) -> tuple[PathStep, ...]:
    roles = _ROLES.get(b.block_type, ())
    steps = []
    for i, conv in enumerate(b.convs):
        extras = [f"stride {conv.stride}"] if conv.stride != 1 else []
        if conv.groups != 1:
            extras.append(f"{conv.groups} groups")
        if conv.dilation != 1:
            extras.append(f"dilation {conv.dilation}")
        role = roles[i] if i < len(roles) and roles[i] else ""
        detail = ", ".join(([role] if role else []) + extras)
        steps.append(PathStep(conv.name, f"{conv.kernel_size}×{conv.kernel_size} conv {conv.in_channels}→"
                                         f"{conv.out_channels}" + (f" ({detail})" if detail else ""),
                              format_shape(conv.out_shape)))
    return tuple(steps)


def shortcut_text(b: BlockRecord) -> str:
    """Identity or projection, and why: the stride, the channels, or both."""
    if b.downsample is None:
        return f"identity: input and output are both {format_shape(b.out_shape)}, so x is added as it is"
    reasons = []
    (c_in, *hw_in), (c_out, *hw_out) = b.in_shape, b.out_shape
    if hw_in != hw_out:
        reasons.append(f"stride {b.downsample.stride} shrinks {format_shape(tuple(hw_in))} → "
                       f"{format_shape(tuple(hw_out))}")
    if c_in != c_out:
        reasons.append(f"channels change {c_in} → {c_out}")
    d = b.downsample
    how = "x must be reshaped before the add" if d.projection else "x is reshaped by fixed ops, with no weights"
    return f"{d.word} ({d.kind}, {d.name}): " + " and ".join(reasons or ["shapes differ"]) + f", so {how}"


def inspect_block(t: Trace, name: str, module: nn.Module | None = None) -> Inspection:
    """Everything about block ``name`` of ``t``; ``module`` (the block itself) gives other libraries' blocks
    their own repr as code."""
    b = t.block(name)
    if _torchvision_like(t):
        code, kind = block_code(t, b), "constructor"
    elif _cifar_like(t):
        code, kind = cifar_block_code(t, b), "constructor"
    elif module is not None:
        code, kind = f"# {b.name}: {type(module).__module__}.{type(module).__qualname__}\n{module!r}", "repr"
        source = class_source(module)
        if source:
            code, kind = f"{code}\n\n# how it computes: its class, {source[0]}\n{source[1]}", "source"
    else:
        code, kind = f"# {b.name}: {b.block_type} (open the model as a module to see its code)", "summary"
    rf = next(r for r in receptive_fields(t) if r.name == name)
    kind_text = f"{b.downsample.word} shortcut" if b.downsample else "identity shortcut"
    return Inspection(
        block=name, title=f"{name} · {b.block_type} · {kind_text}", code=code, code_kind=kind, path=_path(b),
        width=b.width, out_channels=b.out_shape[0], ratio_text=ratio_reason(b), shortcut=shortcut_text(b),
        params=b.params, params_share=b.params / t.total_params, macs=b.macs, macs_share=b.macs / t.total_macs,
        receptive_field=rf.size, output_stride=rf.output_stride, global_context=rf.global_context)


def class_source(module: nn.Module) -> tuple[str, str] | None:
    """(where, text) of the class of ``module`` when Python has its source (not for ours or torchvision's,
    whose constructor says it all, nor for classes made at run time, such as an exported program's)."""
    import inspect

    cls = type(module)
    if cls.__module__.split(".")[0] in ("resnet", "torchvision", "torch"):
        return None
    try:
        where = Path(inspect.getsourcefile(cls) or "").name
        header = inspect.getsource(cls).splitlines()[0]
        forward = inspect.getsource(cls.forward) if "forward" in cls.__dict__ else ""
    except (OSError, TypeError):
        found = _cell_source(cls)  # a class defined in a notebook cell
        if found is None:
            return None
        where, header, forward = found
    lines = forward.splitlines()
    if len(lines) > 80:
        lines = lines[:80] + [f"    # … {len(lines) - 80} more lines"]
    return f"{cls.__module__} ({where})", "\n".join([header, "    ...", *lines])


def _cell_source(cls: type) -> tuple[str, str, str] | None:
    """(where, class line, forward) of a class whose module has no file, such as a notebook's ``__main__``
    (before Python 3.13, ``inspect.getsource`` finds no file for its classes, although the cell's lines are
    in ``linecache``): found from its ``forward``, whose code names the cell."""
    import inspect
    import linecache
    import re

    forward = cls.__dict__.get("forward")
    code = getattr(forward, "__code__", None)
    if code is None:
        return None
    try:
        text = inspect.getsource(forward)
    except (OSError, TypeError):
        return None
    lines = linecache.getlines(code.co_filename)
    pattern = re.compile(rf"^\s*class\s+{re.escape(cls.__name__)}\b")
    header = next((ln.rstrip() for ln in reversed(lines[:code.co_firstlineno]) if pattern.match(ln)), None)
    if header is None:
        return None
    return "a notebook cell", header.strip(), text


def inspection_markdown(i: Inspection, trace: Trace) -> str:
    """The inspector's text (the code goes in its own code view)."""
    b = trace.block(i.block)
    path = " → ".join([f"x {format_shape(b.in_shape)}"] + [f"**{s.name}** {s.what} → {s.out_shape}" for s in i.path])
    rf = f"{i.receptive_field} px" + (" (and the whole image, through its attention's global pool)"
                                      if i.global_context else "")
    lines = [
        f"## {i.title}",
        f"**Path:** {path}, + shortcut{''.join(f' → {a.label}' for a in b.after) if b.after or not b.branch else ''}"
        f" → {format_shape(b.out_shape)}",
        f"**Width {i.width:,} → output {i.out_channels:,} channels:** {i.ratio_text}",
        f"**Shortcut:** {i.shortcut}",
        f"**Cost:** {i.params:,} parameters ({100 * i.params_share:.2f} % of the model) · {i.macs:,} MACs "
        f"({100 * i.macs_share:.2f} %)",
        f"**Receptive field** {rf} · **output stride** {i.output_stride}",
    ]
    if i.activations:
        lines.append("**On the image:** " + " · ".join(f"{k} {v}" for k, v in i.activations.items()))
    return "\n\n".join(lines)
