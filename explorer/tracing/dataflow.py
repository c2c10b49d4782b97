"""One forward pass recorded as dataflow: every torch function call (the tensors it read and wrote, the module
call it ran in) and every module call (its tensor inputs and outputs).

Tensors are told apart by identity and an in-place result is a new version of its tensor, so the graph is the
program's real dataflow whatever the forward's Python does: control flow, functional calls (``F.relu``,
``out += shortcut``), containers of any name, models inside models, ONNX graphs converted to modules. The
recording is thread-local (a ``TorchFunctionMode``) and costs a Python call per torch call (a few ms on a
ResNet-50 forward; ``benchmarks/trace_overhead.py``).
"""
from __future__ import annotations

import math
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .opargs import Conv, Spatial, arg, over_space, pad_fill, spatial_of
from .ops import CONVS, FILLS, GLOBAL
from .patching import forwards

Shape = tuple[int, ...]



@dataclass
class Op:
    """One torch function call that produced tensors."""

    index: int
    func: str  # "conv2d", "add_", "relu", "cat", ...
    inputs: tuple[int, ...]  # values read (the forward's own tensors; parameters and buffers are not values)
    outputs: tuple[int, ...]
    scope: int | None  # the innermost module call it ran in
    spatial: Spatial | None = None  # convolutions and pools
    conv: Conv | None = None
    reduces_space: bool = False  # pools or reduces over the spatial axes: a global pool, a mean over H and W
    params: tuple[tuple[int, int], ...] = ()  # (id, numel) of the parameters it read, directly or through a
    # weight computed from them (a standardised weight)
    fill: float = 0.0  # what a constant pad fills with (the one argument a shortcut's description needs)

    def macs(self, out_shape: tuple[int, ...]) -> int:
        """Multiply-accumulates per sample in torchinfo's convention: a convolution's parameters at every
        output position, any other op's parameters once (a linear layer, a norm's scale and shift)."""
        n = sum(numel for _, numel in self.params)
        if self.conv is not None and len(out_shape) > 2:
            return n * math.prod(out_shape[2:])
        return n


@dataclass
class Call:
    """One module call: the ops [first_op, end_op) ran inside it (its children's included)."""

    index: int
    path: str  # its name in the recorded module ("" for that module itself)
    module: nn.Module = field(repr=False)
    parent: int | None
    inputs: tuple[int, ...]
    ordinal: int  # the how-many-th call of this module (0 for the first)
    first_op: int
    outputs: tuple[int, ...] = ()
    end_op: int = -1

    def holds(self, op: int) -> bool:
        return self.first_op <= op < self.end_op


@dataclass
class Recording:
    """What one forward pass did."""

    ops: list[Op]
    calls: list[Call]
    shapes: dict[int, Shape]  # value -> its full shape (batch included)
    producer: dict[int, int]  # value -> the op that wrote it (the forward's inputs have none)
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    output: Any = field(default=None, repr=False)
    constants: frozenset[int] = frozenset()  # values computed from parameters alone (a standardised weight)

    def consumers(self) -> dict[int, list[int]]:
        """value -> the ops that read it, in order."""
        out: dict[int, list[int]] = {}
        for op in self.ops:
            for v in op.inputs:
                out.setdefault(v, []).append(op.index)
        return out

    def ancestors(self, value: int) -> set[int]:
        """Every value ``value`` was computed from (itself included)."""
        seen, todo = {value}, [value]
        while todo:
            op = self.producer.get(todo.pop())
            if op is None:
                continue
            for v in self.ops[op].inputs:
                if v not in seen:
                    seen.add(v)
                    todo.append(v)
        return seen

    def scopes(self, op: int) -> Iterator[Call]:
        """The module calls ``op`` ran in, innermost first."""
        c = self.ops[op].scope
        while c is not None:
            yield self.calls[c]
            c = self.calls[c].parent

    def where(self, op: int) -> str:
        """The module ``op`` ran in (its dotted name; "" for the recorded module's own forward)."""
        return next((c.path for c in self.scopes(op)), "")

    def table(self, ops: Iterable[int] | None = None) -> str:
        """The ops as a text table, as torch.fx's ``print_tabular`` shows a graph: index, function, the values it
        read (``%3``, the forward's inputs first), the values it made with their shapes, the module it ran in."""
        rows = [("op", "function", "reads", "makes", "in module")]
        for i in (range(len(self.ops)) if ops is None else ops):
            op = self.ops[i]
            made = ", ".join(f"%{v} {'×'.join(map(str, self.shapes.get(v, ())))}" for v in op.outputs)
            rows.append((str(i), op.func, " ".join(f"%{v}" for v in op.inputs) or "-", made, self.where(i) or "-"))
        widths = [max(len(r[k]) for r in rows) for k in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _is_param(t: Tensor) -> bool:
    cls = type(t)
    return cls is nn.Parameter or (cls is not Tensor and isinstance(t, nn.Parameter))


def tensors_in(obj: Any, out: list) -> list:
    """The tensors in ``obj`` (nested tuples, lists and dicts), in order: pytree's generality costs most of a
    recording's time, and a forward's arguments are never more than this."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            tensors_in(o, out)
    return out


_NAMES: dict[Any, str] = {}


def tensors_out(out: Any) -> list[Tensor]:
    """The tensors an op returned: an op is what returns at least one (``dim()`` and ``.shape`` are not)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list, dict)):
        return tensors_in(out, [])
    return []


def op_name(func: Any) -> str:
    """``conv2d`` for ``F.conv2d``, ``torch.conv2d`` and ``aten.conv2d.default`` alike."""
    try:
        return _NAMES[func]
    except (KeyError, TypeError):
        pass
    name = (getattr(func, "_opname", None) or getattr(func, "__name__", None) or str(func)).split(".")[0]
    try:
        _NAMES[func] = name
    except TypeError:
        pass
    return name


Watch = dict[int, list[Callable[[Tensor], None]]]  # value -> what to call with its tensor the moment it is made


class Recorder(TorchFunctionMode):
    """Records a forward pass: enter it, register ``hooks(model)``, run the model, read ``recording()``.
    ``watch`` hands chosen values to callbacks as they are made, before anything can change them in place."""

    def __init__(self, watch: Watch | None = None) -> None:
        super().__init__()
        self.watch = watch or {}
        self._ids: dict[int, tuple[weakref.ref, int]] = {}
        self._next = 0
        self.ops: list[Op] = []
        self.calls: list[Call] = []
        self.shapes: dict[int, Shape] = {}
        self.producer: dict[int, int] = {}
        self._stack: list[int] = []
        self._ordinals: dict[int, int] = {}
        self.from_params: set[int] = set()  # values computed from parameters alone (a standardised weight)
        self._lineage: dict[int, tuple[tuple[int, int], ...]] = {}  # such a value -> the parameters behind it
        self._owners: dict[int, tuple[str, nn.Module]] = {}  # parameter id -> its leaf module (not hooked)

    # values ---------------------------------------------------------------------------------------------------
    def value(self, t: Tensor) -> int | None:
        entry = self._ids.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1]

    def new_value(self, t: Tensor, op: int | None = None) -> int:
        v = self._next
        self._next += 1
        try:
            ref = weakref.ref(t)
        except TypeError:  # pragma: no cover - every tensor takes weak references
            return v
        self._ids[id(t)] = (ref, v)
        self.shapes[v] = tuple(t.shape)
        if op is not None:
            self.producer[v] = op
        for fn in self.watch.get(v, ()):
            fn(t)
        return v

    def values(self, obj: Any, create: bool = False) -> tuple[int, ...]:
        out = []
        ids = self._ids
        for t in (obj if isinstance(obj, list) else tensors_in(obj, [])):
            entry = ids.get(id(t))
            if entry is not None and entry[0]() is t:
                out.append(entry[1])
            elif create and not _is_param(t):
                out.append(self.new_value(t))
        return tuple(out)

    # ops ------------------------------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None) -> Any:  # noqa: ANN001 - torch's signature
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        produced = tensors_out(out)
        if not produced:
            return out
        name = op_name(func)
        leaves = tensors_in(kwargs, tensors_in(args, [])) if kwargs else tensors_in(args, [])
        read = self.values(leaves)
        inputs = tuple(v for v in read if v not in self.from_params)
        index = len(self.ops)
        outputs = tuple(self.new_value(t, index) for t in produced)
        direct = tuple((id(t), t.numel()) for t in leaves if _is_param(t))
        params = tuple(dict.fromkeys(direct + tuple(p for v in read if v in self.from_params for p in self._lineage[v])))
        scope = self._scope(index, params, inputs, outputs)
        if not inputs and (read or direct):
            self.from_params.update(outputs)
            for v in outputs:
                self._lineage[v] = params
            params = ()  # computing a weight is not work on the data: its MACs go to the op that uses it
        spatial = spatial_of(name, args, kwargs)
        self.ops.append(Op(index, name, inputs, outputs, scope, spatial,
                           self._conv(name, args, kwargs) if spatial is not None and name in CONVS else None,
                           name in GLOBAL and over_space(name, args, kwargs), params,
                           pad_fill(name, args, kwargs) if name in FILLS else 0.0))
        return out

    def _conv(self, name: str, args: tuple, kwargs: dict) -> Conv:
        weight = arg(args, kwargs, 1, "weight")
        groups = int(arg(args, kwargs, 8 if name in ("convolution", "_convolution") else 6, "groups", 1) or 1)
        learned = _is_param(weight) or self.value(weight) in self.from_params
        return Conv(int(weight.shape[1]) * groups, int(weight.shape[0]), groups, learned)

    # module calls ---------------------------------------------------------------------------------------------
    def _scope(self, index: int, params: tuple[tuple[int, int], ...], inputs: tuple[int, ...],
               outputs: tuple[int, ...]) -> int | None:
        """The call an op runs in. A leaf module with parameters is not hooked (a hook on every module slows a
        forward by a tenth): its call is made here, from the parameters its ops read."""
        parent = self._stack[-1] if self._stack else None
        owner = next((self._owners[pid] for pid, _ in params if pid in self._owners), None)
        if owner is None:
            return parent
        path, module = owner
        last = self.calls[-1] if self.calls else None
        if last is not None and last.module is module and last.end_op == index and last.parent == parent:
            last.end_op, last.outputs = index + 1, outputs  # the same module's next op (a standardised weight, then
            return last.index                               # its convolution)
        key = id(module)
        ordinal = self._ordinals.get(key, 0)
        self._ordinals[key] = ordinal + 1
        call = Call(len(self.calls), path, module, parent, inputs, ordinal, index, outputs, index + 1)
        self.calls.append(call)
        return call.index

    def _enter(self, path: str, module: nn.Module, args: tuple, kwargs: dict) -> None:
        key = id(module)
        ordinal = self._ordinals.get(key, 0)
        self._ordinals[key] = ordinal + 1
        call = Call(len(self.calls), path, module, self._stack[-1] if self._stack else None,
                    self.values((args, kwargs), create=True), ordinal, len(self.ops))
        self.calls.append(call)
        self._stack.append(call.index)

    def _exit(self, module: nn.Module, args: Any, output: Any) -> None:
        if not self._stack:
            return
        call = self.calls[self._stack.pop()]
        call.outputs = self.values(output, create=True)
        call.end_op = len(self.ops)

    @contextmanager
    def hooks(self, model: nn.Module, prefix: str = "") -> Iterator[None]:
        """Hooks on every module of ``model`` (named from ``prefix``), removed on the way out."""
        handles = []
        try:
            for name, m in model.named_modules():
                path = f"{prefix}.{name}" if prefix and name else (name or prefix)
                own = [t for t in m._parameters.values() if t is not None]
                if own and not m._modules and name:
                    for t in own:
                        self._owners[id(t)] = (path, m)
                    continue
                handles.append(m.register_forward_pre_hook(
                    lambda mod, a, kw, path=path: self._enter(path, mod, a, kw), with_kwargs=True))
                handles.append(m.register_forward_hook(self._exit, always_call=True))
            yield
        finally:
            for h in handles:
                h.remove()

    def recording(self, inputs: tuple[int, ...], output: Any) -> Recording:
        return Recording(self.ops, self.calls, self.shapes, self.producer, inputs, self.values(output), output,
                         frozenset(self.from_params))


OpWatch = dict[int, list[tuple[int, Callable[[Tensor], None]]]]  # op index -> (output position, callback)


def record(model: nn.Module, args: tuple, kwargs: dict | None = None,
           state: dict[str, Tensor] | None = None, watch: Watch | None = None) -> Recording:
    """Run ``model(*args, **kwargs)`` once (with ``state`` in place of its parameters and buffers, when given:
    ``torch.func.functional_call``) and return what it did; ``watch``: see ``Recorder``."""
    rec = Recorder(watch)
    kwargs = kwargs or {}
    if state is not None:  # the stand-ins are what the ops will read: their leaf modules own them
        leaves = {id(m): (n, m) for n, m in model.named_modules()}
        modules = dict(model.named_modules())
        for key, t in state.items():
            owner = modules.get(key.rsplit(".", 1)[0] if "." in key else "")
            if owner is not None and not owner._modules and key.rsplit(".", 1)[-1] in owner._parameters:
                rec._owners[id(t)] = leaves[id(owner)]
    with forwards(), rec.hooks(model):
        inputs = rec.values((args, kwargs), create=True)
        with rec:
            if state is None:
                out = model(*args, **kwargs)
            else:
                out = torch.func.functional_call(model, state, args, kwargs, strict=False)
    return rec.recording(inputs, out)


__all__ = ["Call", "Conv", "Op", "OpWatch", "Recorder", "Recording", "Spatial", "Watch", "op_name", "record",
           "tensors_in", "tensors_out"]
