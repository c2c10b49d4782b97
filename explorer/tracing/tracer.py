"""``trace(model, x)``: one recorded forward pass, its residual blocks recognised, turned into a ``Trace``."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .dataflow import Recording, record
from .ops import OP_KINDS, SHAPE_ONLY, STRUCTURAL
from .device import model_device, resolve_device
from .hooks import eval_mode, running_on
from .identify import infer_config, model_label
from .layout import BlockLayout, ForwardFailed, Layout, NotAResNet, example_input, meta_state, recognise, refusal
from .layers import module_layer, stride_of, subtree_params
from .memory import MemoryProfile, measure_memory
from .meta import MetaOps
from .modes import LightRun
from .plans import PlanCache, input_key, planned
from .records import (ACTIVATION_NAMES, BlockRecord, ConvRecord, DownsampleRecord, LayerRecord, ModuleRecord, Shape,
                      StageRecord, Trace)
from .receptive import fields
from .shortcuts import describe

def trace(
    model: nn.Module,
    x: Tensor | None = None,
    input_size: int = 224,
    device: str | torch.device | None = None,
    memory: bool = False,
    backbone: str | None = None,
) -> Trace:
    """Run ``model`` once on ``x`` (default: zeros of ``input_size`` in the model's dtype) and record every
    residual block, recognised by what the forward computes (``layout``).

    Any module is accepted; ``backbone`` (a dotted path) runs a submodule instead. The records cover the
    backbone: the innermost module that holds every block and takes the input. The model is left as it was
    (hooks removed, even if the forward raises; train/eval flags, device and parameters restored).
    ``device=None`` runs where the model is; ``"meta"`` (or a model on the meta device) allocates nothing: a
    real model is then run with meta stand-ins for its tensors. ``memory=True`` adds what the model needs in
    memory (``Trace.memory``), measured by two more passes on the meta device.
    """
    root = submodule(model, backbone)
    target = model_device(root) if device is None else (torch.device("meta") if str(device) == "meta"
                                                          else resolve_device(device))
    x = example_input(root, input_size) if x is None else x
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"input must be N×3×H×W, got shape {tuple(x.shape)}")
    where = f"{backbone!r} ({type(root).__name__})" if backbone else type(model).__name__

    def fresh(_old: _Traced | None) -> tuple[_Traced, Trace]:
        layout = _recognised(root, x, target, where)
        profile = measure_memory(layout.backbone, layout.parts(), tuple(x.shape[1:]), x.dtype) if memory else None
        done = build_trace(model if not backbone else root, layout, tuple(x.shape[1:]), int(x.shape[0]), str(target),
                           profile, backbone)
        return _Traced(tuple(op.func for op in layout.recording.ops), done), done

    def attempt(kept: _Traced) -> tuple[tuple[str, ...], Trace]:
        with running_on(root, target):
            moved, light = x.to(target), LightRun({})
            with light:
                root(moved)
        return light.signature(), kept.trace  # the same program ran: the same records (frozen)

    if target.type == "meta":
        return fresh(None)[1]
    key = (input_key(x), _fingerprint(root), str(target), memory, backbone, id(model))
    return planned(_TRACES, root, key, attempt, fresh)[1]  # recognised once per model and input


@dataclass(frozen=True)
class _Traced:
    """A real-device trace and the ops its recording ran (the records hold no module)."""

    signature: tuple[str, ...]
    trace: Trace


_TRACES: PlanCache[_Traced] = PlanCache()


def _fingerprint(model: nn.Module) -> int:
    """What the records depend on besides the forward's code: every module's name, class and configuration
    (kernel, stride, padding, dilation, groups) and every tensor's shape and dtype."""
    parts = []
    for name, m in model.named_modules():
        d = m.__dict__
        conf = repr((d.get("kernel_size"), d.get("stride"), d.get("padding"), d.get("dilation"), d.get("groups")))
        tensors = tuple((n, tuple(t.shape), t.dtype) for n, t in (*m._parameters.items(), *m._buffers.items())
                        if t is not None)
        parts.append((name, type(m), conf, tensors))
    return hash(tuple(parts))


def submodule(model: nn.Module, backbone: str | None) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise NotAResNet(f"expected an nn.Module (a convolutional residual network); got a {type(model).__name__}")
    if not backbone:
        return model
    try:
        return model.get_submodule(backbone)
    except AttributeError:
        raise NotAResNet(f"{type(model).__name__} has no submodule {backbone!r}") from None


def _recognised(root: nn.Module, x: Tensor, target: torch.device, where: str) -> Layout:
    layout = recognise(run_recorded(root, x, target, where))
    if isinstance(layout, str):
        raise refusal(where, layout)
    return layout


def find_layout(model: nn.Module, backbone: str | None = None, input_size: int = 224) -> Layout:
    """The residual network of ``model`` (or of its submodule at the dotted path ``backbone``), recognised
    from one forward pass on the meta device: nothing is allocated and the model is not touched."""
    root = submodule(model, backbone)
    where = f"{backbone!r} ({type(root).__name__})" if backbone else type(model).__name__
    return _recognised(root, example_input(root, input_size), torch.device("meta"), where)


def run_recorded(model: nn.Module, x: Tensor, target: torch.device, where: str | None = None) -> Recording:
    """``model(x)`` recorded, in eval mode without gradients, on ``target`` (the meta device: nothing
    allocated; a real model then runs with meta stand-ins for its tensors, untouched)."""
    try:
        if target.type == "meta":
            with eval_mode(model), torch.no_grad(), MetaOps():
                state = None if all(t.is_meta for t in model.state_dict().values()) else meta_state(model)
                return record(model, (x.to("meta"),), state=state)
        with running_on(model, target):
            return record(model, (x.to(target),))
    except NotAResNet:
        raise
    except (RuntimeError, TypeError, ValueError, IndexError, AssertionError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ForwardFailed(f"{where or type(model).__name__}: its forward failed on a {format_input(x)} input "
                            f"({first}); try another input size, or name the backbone that takes an image") from None


def format_input(x: Tensor) -> str:
    return "×".join(str(d) for d in x.shape)


def _per_sample(shape: Shape) -> Shape:
    return tuple(shape[1:])


class _Builder:
    """Records from a recording: layers grouped from ops, costs per leaf module call, receptive fields."""

    def __init__(self, layout: Layout) -> None:
        self.layout, self.rec = layout, layout.recording
        net = layout.backbone
        self.params = subtree_params(net)
        self.base_path = layout.path
        self.fields = fields(self.rec, layout.base)
        self.pooled = _pooled(self.rec)
        self._global_in: dict[int, bool] = {}

    # names ------------------------------------------------------------------------------------------------
    def name(self, path: str) -> str:
        return self.layout.name(path)

    def _call_name(self, call_index: int) -> str:
        call = self.rec.calls[call_index]
        suffix = f"#{call.ordinal + 1}" if call.ordinal else ""
        return self.name(call.path) + suffix

    # layers -----------------------------------------------------------------------------------------------
    def _holds_global(self, call_index: int) -> bool:
        if call_index not in self._global_in:
            c = self.rec.calls[call_index]
            self._global_in[call_index] = any(self.rec.ops[i].reduces_space for i in range(c.first_op, c.end_op))
        return self._global_in[call_index]

    def layer_of(self, op: int, block: BlockLayout | None) -> tuple[str, int]:
        """("call", index) of the leaf module (or, inside a block, the attention-like module) that ran ``op``,
        or ("op", op) for a functional op."""
        found: tuple[str, int] = ("op", op)
        bound = block.module if block is not None else self.layout.backbone
        for call in self.rec.scopes(op):
            if call.module is bound or call.index == self.layout.base.index:
                break
            if not call.module._modules:
                found = ("call", call.index)
            elif block is not None and self._holds_global(call.index):
                found = ("call", call.index)
        return found

    def layers(self, ops: tuple[int, ...] | list[int], block: BlockLayout | None = None) -> tuple[LayerRecord, ...]:
        out, seen = [], set()
        for i in ops:
            key = self.layer_of(i, block)
            if key in seen:
                continue
            seen.add(key)
            record = self._layer(key, block)
            if record is not None:
                out.append(record)
        return tuple(out)

    def _layer(self, key: tuple[str, int], block: BlockLayout | None) -> LayerRecord | None:
        kind, index = key
        if kind == "call":
            call = self.rec.calls[index]
            shape = _per_sample(self.rec.shapes[call.outputs[0]]) if call.outputs else ()
            if type(call.module).__module__.startswith("torch.nn") or call.module._modules:
                return module_layer(self._call_name(index), call.module, shape)
            main = [i for i in range(call.first_op, call.end_op) if self.rec.ops[i].func not in SHAPE_ONLY
                    and not set(self.rec.ops[i].outputs) <= self.rec.constants]
            if len(main) != 1 or self.rec.ops[main[0]].func not in OP_KINDS:
                return module_layer(self._call_name(index), call.module, shape)
            index, name = main[0], self._call_name(index)  # a module that is one op (ONNX's, an exported
            op = self.rec.ops[index]                           # program's): the op it is, under its name
            s = op.spatial
            return LayerRecord(name, OP_KINDS[op.func], shape, s.kernel if s else 1, s.stride if s else 1,
                               s.dilation if s else 1)
        op = self.rec.ops[index]
        if op.func in SHAPE_ONLY or not op.outputs:
            return None
        scope = next(iter(self.rec.scopes(index)), None)
        where = self.name(scope.path) if scope is not None and scope.index != self.layout.base.index else ""
        shape = _per_sample(self.rec.shapes[op.outputs[0]])
        name = f"{where}:{op.func}@{index}" if where else f"{op.func}@{index}"
        kind = OP_KINDS.get(op.func, op.func)
        s = op.spatial
        return LayerRecord(name, kind, shape, s.kernel if s else 1, s.stride if s else 1, s.dilation if s else 1)

    # costs ------------------------------------------------------------------------------------------------
    def costs(self, ops: tuple[int, ...] | list[int]) -> tuple[int, int]:
        """Parameters and MACs of ``ops``, from what each op read (each parameter once, MACs for every op),
        whatever module, if any, ran them: an ONNX graph's, a flattened program's, a user's functional code."""
        params: dict[int, int] = {}
        macs = 0
        for i in ops:
            op = self.rec.ops[i]
            if op.params and op.outputs:
                macs += op.macs(self.rec.shapes[op.outputs[0]])
                params.update(op.params)
        return sum(params.values()), macs

    # parts ------------------------------------------------------------------------------------------------
    def part(self, name: str, ops: tuple[int, ...], in_value: int, out_value: int) -> ModuleRecord:
        params, macs = self.costs(ops)
        layers = self.layers(ops)
        return ModuleRecord(name=name, modules=tuple(dict.fromkeys(layer.name for layer in layers)),
                            in_shape=_per_sample(self.rec.shapes[in_value]),
                            out_shape=_per_sample(self.rec.shapes[out_value]), params=params, macs=macs,
                            layers=layers, receptive=self.fields.get(out_value))

    def block(self, b: BlockLayout) -> BlockRecord:
        rec, r = self.rec, b.residual
        pre = _pre_ops(rec, b)
        branch_ops = (*pre, *r.branch_ops)
        convs = self._convs(b, r.branch_ops)
        in_shape, out_shape = _per_sample(rec.shapes[b.input]), _per_sample(rec.shapes[r.output])
        between = self.layout.between.get(b.name, ())
        if b.module is not None:
            params = self.params.get(b.name, 0) + self.costs(between)[0]
            macs = self.costs(tuple(range(b.first_op, b.end_op)) + between)[1]
        else:
            params, macs = self.costs(tuple(range(b.first_op, b.end_op)) + between)
        branch = self.layers(branch_ops, b)
        width = convs[0].out_channels if convs else in_shape[0]
        expansion = getattr(b.module, "expansion", None)
        if not isinstance(expansion, int):
            expansion = max(1, out_shape[0] // max(1, width))
        extras = tuple(layer for layer in (*self.layers(between), *branch)
                       if layer.kind not in ("conv", "bn", "relu", *ACTIVATION_NAMES, *STRUCTURAL))
        return BlockRecord(
            name=b.name, stage=b.stage_index, index=b.index, block_type=_block_type(b, convs),
            in_shape=in_shape, out_shape=out_shape, convs=convs, stride=stride_of(in_shape, out_shape),
            dilation=max((c.dilation for c in convs), default=1), width=width, expansion=expansion,
            downsample=self._shortcut(b) if b.projection else None, params=params, macs=macs, extras=extras,
            branch=branch, stage_name=b.stage, after=self.layers(r.after_ops, b), receptive=self.fields.get(r.output),
        )

    def _convs(self, b: BlockLayout, ops: tuple[int, ...]) -> tuple[ConvRecord, ...]:
        """The branch's learned convolutions on feature maps (not the attention's, which see pooled values)."""
        out = []
        for i in ops:
            op = self.rec.ops[i]
            if op.conv is None or not op.conv.learned or (op.inputs and op.inputs[0] in self.pooled):
                continue
            kind, index = self.layer_of(i, b)
            if kind == "call" and self.rec.calls[index].module._modules:
                inner = next(c for c in self.rec.scopes(i))
                name = self._call_name(inner.index)
            else:
                name = self._call_name(index) if kind == "call" else f"{b.name}:conv@{i}"
            out.append(ConvRecord(name=name.removeprefix(f"{b.name}."), in_channels=op.conv.in_channels,
                                  out_channels=op.conv.out_channels, kernel_size=op.spatial.kernel,
                                  stride=op.spatial.stride, groups=op.conv.groups, dilation=op.spatial.dilation,
                                  out_shape=_per_sample(self.rec.shapes[op.outputs[0]])))
        return tuple(out)

    def _shortcut(self, b: BlockLayout) -> DownsampleRecord:
        rec, r = self.rec, b.residual
        ops = r.shortcut_ops
        name = _shortcut_name(self, b) or f"{b.name}:shortcut"
        in_shape, out_shape = _per_sample(rec.shapes[r.split]), _per_sample(rec.shapes[r.shortcut])
        params, macs = self.costs(ops)
        # Without parameters it is named by its ops (option A's subsample + zero-pad), not its module's class.
        layers = self.layers(ops, b) if params else describe(rec, ops, lambda i: f"{name}:{rec.ops[i].func}@{i}")
        return DownsampleRecord(name=name, in_shape=in_shape, out_shape=out_shape, stride=stride_of(in_shape, out_shape),
                                params=params, macs=macs, layers=layers)


def _pooled(rec: Recording) -> set[int]:
    """Values computed from a global pool alone (an attention's squeezed channels and its gates), whose
    convolutions are the attention's, not the branch's."""
    pooled: set[int] = set()
    for op in rec.ops:
        if op.reduces_space or (op.inputs and all(v in pooled for v in op.inputs)):
            pooled.update(op.outputs)
    return pooled


def _shortcut_name(builder: _Builder, b: BlockLayout) -> str | None:
    """The module that is the shortcut (``layer2.0.downsample``, ``shortcut``): the outermost one inside the
    block that ran only shortcut ops."""
    rec, ops = builder.rec, set(b.residual.shortcut_ops)
    best = None
    for call in rec.scopes(b.residual.shortcut_ops[-1]):
        if call.module is b.module or call.index == builder.layout.base.index:
            break
        inside = {i for i in range(call.first_op, call.end_op) if rec.ops[i].func not in SHAPE_ONLY
                  and not set(rec.ops[i].outputs) <= rec.constants}
        if inside and inside <= ops:
            best = call
    return builder._call_name(best.index) if best is not None else None


def _pre_ops(rec: Recording, b: BlockLayout) -> tuple[int, ...]:
    """A pre-activation block's ops from its input to the split (its first norm and activation)."""
    r = b.residual
    if r.split == b.input:
        return ()
    from .residual import path_ops

    return path_ops(rec, b.input, r.split)


GENERIC = ("InterpreterModule", "GraphModule", "Module", "Sequential")  # classes that say nothing of a block


def _block_type(b: BlockLayout, convs: tuple[ConvRecord, ...]) -> str:
    if b.module is not None and type(b.module).__name__ not in GENERIC:
        return type(b.module).__name__
    kernels = [c.kernel_size for c in convs]
    return {(1, 3, 1): "Bottleneck", (3, 3): "BasicBlock"}.get(tuple(kernels), "ResidualBlock")


def _not_a_tensor(model: nn.Module, layout: Layout) -> NotAResNet:
    """A ResNet inside a model whose input or output is not one tensor (a detector): refused, naming it."""
    inner = ".".join(p for p in os.path.commonprefix([b.name.split(".") for b in layout.blocks])
                     if not p.startswith("layer") and not p.isdigit())  # (commonprefix of lists: shared parts)
    return NotAResNet(f"{type(model).__name__} holds residual blocks, but its input or output is not one tensor "
                      "(a detector's or segmenter's): trace the ResNet inside it: "
                      + (f"explorer.trace(model, backbone={inner!r})" if inner else "its backbone"))


def build_trace(model: nn.Module, layout: Layout, input_shape: Shape, batch: int, device: str,
                memory: MemoryProfile | None = None, backbone: str | None = None) -> Trace:
    """Records from a recognised recording; pure bookkeeping, no tensors."""
    builder = _Builder(layout)
    rec = layout.recording
    blocks = [builder.block(b) for b in layout.blocks]
    first, last = layout.blocks[0], layout.blocks[-1]
    base_in = layout.base.inputs[0]
    stem = builder.part("stem", layout.stem_ops, base_in, first.input)
    out_value = layout.base.outputs[-1] if layout.base.outputs else last.output
    if out_value not in rec.shapes or base_in not in rec.shapes:
        raise _not_a_tensor(model, layout)
    head = builder.part("head", layout.head_ops, last.output, out_value)
    config = infer_config(layout, blocks, head, stem)
    stages = _stages(layout, blocks)
    return Trace(
        model_name=model_label(model, layout, config), config=config, input_shape=input_shape, batch_size=batch,
        device=device, stem=stem, blocks=tuple(blocks), head=head,
        output_shape=_per_sample(rec.shapes[out_value]), total_params=builder.params[""],
        total_macs=stem.macs + head.macs + sum(b.macs for b in blocks), stages=tuple(stages), memory=memory,
        backbone=layout.path,
    )


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


__all__ = ["build_trace", "find_layout", "module_layer", "run_recorded", "trace"]
