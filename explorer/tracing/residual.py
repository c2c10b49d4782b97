"""Residual blocks found in a recorded forward pass, by what they compute: an addition whose operands both come
from one tensor x, one through a branch of convolutions F(x), the other through a shortcut (x itself, or a
projection of it), followed or not by pointwise activations. Post- and pre-activation blocks alike.

The block is the innermost module whose input x is (or holds) the split and whose output is the sum (or its
activation); where no module is (an ONNX graph converted to modules, a flattened program), the block is the
addition and what leads to it, named after the addition.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

from .dataflow import ADDS, Call, Recording

# Ops that keep each position to itself and one tensor to one tensor: what may follow the sum in a block.
POINTWISE = frozenset({"relu", "relu_", "gelu", "silu", "silu_", "leaky_relu", "leaky_relu_", "hardswish",
                       "hardswish_", "mish", "elu", "elu_", "relu6", "hardtanh", "hardtanh_", "prelu", "dropout",
                       "clone", "contiguous", "selu", "celu", "softplus", "tanh", "sigmoid", "identity", "alias",
                       "detach", "_to_copy", "to"})


# Ops that move positions: a sum fed through one of them merges resolutions (a feature pyramid's top-down
# path), which no residual block does.
RESAMPLE = frozenset({"interpolate", "upsample", "upsample_nearest2d", "upsample_bilinear2d", "_upsample_nearest_exact2d",
                      "upsample_bicubic2d", "grid_sample", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold"})


@dataclass(frozen=True)
class Residual:
    """One residual block as its dataflow shows it (value and op indices into the recording)."""

    add: int  # the addition
    split: int  # the value both operands come from: the block's input (or its pre-activation)
    branch: int  # the residual branch's output F(x), as it enters the sum
    shortcut: int  # the shortcut's output (``split`` itself for an identity shortcut)
    branch_arg: int  # which operand of the addition is the branch (0 or 1)
    output: int  # the block's output: the sum, or its activation
    call: int | None  # the module call that is the block, if a module is
    branch_ops: tuple[int, ...]  # ops on a path from the split to the branch's output, in order
    shortcut_ops: tuple[int, ...]  # the same for the shortcut (empty: identity)
    after_ops: tuple[int, ...]  # pointwise ops between the sum and the output
    inplace_shortcut: bool = False  # the sum was written into the shortcut's tensor (the block's input)

    @property
    def identity(self) -> bool:
        return not self.shortcut_ops


@dataclass(frozen=True)
class Found:
    """Every residual block of a recording, in forward order, and what else the pass held."""

    blocks: tuple[Residual, ...]
    conv_free_adds: int  # additions of two tensors from one split with no convolution on either side (a ViT)
    adds: int  # additions of two forward tensors of the same shape


def _nearest_common(rec: Recording, a: int, b: int) -> int | None:
    """The latest value both ``a`` and ``b`` were computed from (values are numbered in creation order, so
    walking back by decreasing number meets it first)."""
    side = {a: 1, b: 2}
    heap = sorted({-a, -b})  # a sorted list is a heap
    seen: set[int] = set()
    while heap:
        v = -heapq.heappop(heap)
        if v in seen:
            continue
        seen.add(v)
        if side.get(v) == 3 or a == b:
            return v
        op = rec.producer.get(v)
        if op is None:
            continue
        for u in rec.ops[op].inputs:
            before = side.get(u, 0)
            side[u] = before | side[v]
            if before != side[u]:
                heapq.heappush(heap, -u)
    return None


def _path_ops(rec: Recording, split: int, end: int) -> tuple[int, ...]:
    """The ops on any path from value ``split`` to value ``end`` (a forward sweep over the window between)."""
    if split == end:
        return ()
    start = rec.producer.get(split, -1) + 1
    stop = rec.producer[end]
    reach, ops = {split}, []
    for op in rec.ops[start:stop + 1]:
        if any(v in reach for v in op.inputs):
            ops.append(op.index)
            reach.update(op.outputs)
    # keep only the ops whose outputs lead to ``end``
    needed, keep = {end}, []
    for i in reversed(ops):
        op = rec.ops[i]
        if any(v in needed for v in op.outputs):
            keep.append(i)
            needed.update(op.inputs)
    return tuple(reversed(keep))


def _convs(rec: Recording, ops: tuple[int, ...]) -> int:
    return sum(1 for i in ops if rec.ops[i].conv is not None)


def _pointwise_to(rec: Recording, start: int, end: int) -> tuple[int, ...] | None:
    """The pointwise ops leading from value ``start`` to value ``end`` (``()`` when they are the same value),
    or None when ``end`` is not ``start`` after pointwise ops only."""
    ops: list[int] = []
    v = end
    while v != start:
        op = rec.producer.get(v)
        if op is None or rec.ops[op].func not in POINTWISE or len(rec.ops[op].inputs) != 1:
            return None
        ops.append(op)
        v = rec.ops[op].inputs[0]
    return tuple(reversed(ops))


def _block_call(rec: Recording, add: int, split: int, branch: tuple[int, ...]) -> tuple[int | None, tuple[int, ...]]:
    """The innermost module call that is the block: it runs the branch, its input holds the split, its output
    is the sum after pointwise ops. Returns the call (None if no module is) and the ops after the sum."""
    out = rec.ops[add].outputs[0]
    split_op = rec.producer.get(split)
    for call in rec.scopes(add):
        inside = split in call.inputs or (split_op is not None and call.holds(split_op))
        if not inside or not call.outputs or not all(call.holds(i) for i in branch):
            continue
        after = _pointwise_to(rec, out, call.outputs[0])
        if after is not None:
            return call.index, after
    return None, _trailing(rec, out)


def _trailing(rec: Recording, out: int) -> tuple[int, ...]:
    """Pointwise ops that follow the sum as its only reader (the block's activation, where no module says)."""
    readers = [op for op in rec.ops[rec.producer[out] + 1:] if out in op.inputs]
    ops: list[int] = []
    while len(readers) == 1 and readers[0].func in POINTWISE and len(readers[0].inputs) == 1:
        ops.append(readers[0].index)
        out = readers[0].outputs[0]
        readers = [op for op in rec.ops[readers[0].index + 1:] if out in op.inputs]
    return tuple(ops)


def _operands(rec: Recording, add: int) -> tuple[int, int] | None:
    op = rec.ops[add]
    if op.func not in ADDS or len(op.inputs) != 2 or len(op.outputs) != 1:
        return None
    a, b = op.inputs
    shapes = rec.shapes
    if a == b or shapes.get(a) != shapes.get(b) or len(shapes.get(a, ())) < 3:
        return None
    return a, b


def find_residuals(rec: Recording) -> Found:
    """Every residual addition of ``rec`` as a block, in forward order (see the module's docstring)."""
    blocks: list[Residual] = []
    adds = conv_free = 0
    module_windows: list[Call] = []
    for op in rec.ops:
        pair = _operands(rec, op.index)
        if pair is None:
            continue
        adds += 1
        split = _nearest_common(rec, *pair)
        if split is None:
            continue
        paths = [_path_ops(rec, split, v) for v in pair]
        if any(rec.ops[i].func in RESAMPLE for p in paths for i in p):
            continue
        counts = [_convs(rec, p) for p in paths]
        if max(counts) == 0:
            conv_free += 1
            continue
        branch_arg = 0 if (counts[0], len(paths[0])) >= (counts[1], len(paths[1])) else 1
        call, after = _block_call(rec, op.index, split, paths[branch_arg])
        if call is None and any(c.holds(op.index) for c in module_windows):
            continue  # an addition inside a block's branch (Res2Net's scales): part of that block
        if call is not None:
            if any(b.call == call for b in blocks):
                continue
            module_windows.append(rec.calls[call])
        out = rec.ops[after[-1]].outputs[0] if after else op.outputs[0]
        shortcut = pair[1 - branch_arg]
        blocks.append(Residual(op.index, split, pair[branch_arg], shortcut, branch_arg, out, call, paths[branch_arg],
                               paths[1 - branch_arg], after, inplace_shortcut=op.func in ("add_", "__iadd__")
                               and branch_arg == 1))
    # a module block that came after an addition inside it was recognised: drop those inner ones
    kept = [b for b in blocks if b.call is not None or not any(rec.calls[c.index].holds(b.add) for c in module_windows)]
    return Found(tuple(kept), conv_free, adds)


__all__ = ["Found", "POINTWISE", "Residual", "find_residuals"]
