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

from .dataflow import Call, Recording
from .ops import ADDS, POINTWISE, RESAMPLE

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
    verdicts: tuple[tuple[int, str], ...] = ()  # (op, why it is not a block; BLOCK where it is) for every addition


BLOCK = "a residual block"


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


def path_ops(rec: Recording, split: int, end: int) -> tuple[int, ...]:
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


def _operands(rec: Recording, add: int) -> tuple[int, int] | str:
    """The addition's two tensor operands, or why it has none a block could add."""
    op = rec.ops[add]
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        return "adds a constant, a parameter or a buffer to one forward tensor"
    a, b = op.inputs
    shapes = rec.shapes
    if a == b:
        return "adds a tensor to itself"
    if shapes.get(a) != shapes.get(b):
        return f"its operands differ in shape ({_shape(shapes.get(a))} and {_shape(shapes.get(b))}): a broadcast"
    if len(shapes.get(a, ())) < 3:
        return f"its operands are not feature maps ({_shape(shapes.get(a))})"
    return a, b


def _shape(shape: tuple[int, ...] | None) -> str:
    return "×".join(map(str, shape)) if shape else "?"


def _judge(rec: Recording, add: int, pair: tuple[int, int], blocks: list[Residual], windows: list[Call]
           ) -> Residual | str:
    """The block an addition of two same-shaped feature maps closes, or why it closes none."""
    split = _nearest_common(rec, *pair)
    if split is None:
        return "its operands were computed from no common tensor (two inputs added)"
    paths = [path_ops(rec, split, v) for v in pair]
    resampled = next((rec.ops[i].func for p in paths for i in p if rec.ops[i].func in RESAMPLE), None)
    if resampled:
        return f"an operand passes through {resampled}: it merges two resolutions (a feature pyramid), as no block does"
    counts = [_convs(rec, p) for p in paths]
    if max(counts) == 0:
        return "no convolution on either side (an attention or MLP block's addition, or a skip of pointwise ops)"
    branch_arg = 0 if (counts[0], len(paths[0])) >= (counts[1], len(paths[1])) else 1
    call, after = _block_call(rec, add, split, paths[branch_arg])
    holder = next((c for c in windows if c.holds(add)), None)
    if call is None and holder is not None:
        return _inside(holder)
    if call is not None and any(b.call == call for b in blocks):
        return f"a second addition in {rec.calls[call].path}, whose first is its block's"
    op = rec.ops[add]
    out = rec.ops[after[-1]].outputs[0] if after else op.outputs[0]
    return Residual(add, split, pair[branch_arg], pair[1 - branch_arg], branch_arg, out, call, paths[branch_arg],
                    paths[1 - branch_arg], after, inplace_shortcut=op.func in ("add_", "__iadd__") and branch_arg == 1)


def _inside(holder: Call) -> str:
    return f"inside the residual branch of {holder.path or 'the model'} (a Res2Net scale): part of that block"


def find_residuals(rec: Recording) -> Found:
    """Every residual addition of ``rec`` as a block, in forward order (see the module's docstring), and for every
    addition why it is or is not one (``Found.verdicts``: what ``explain`` shows)."""
    blocks: list[Residual] = []
    verdicts: dict[int, str] = {}
    adds = conv_free = 0
    windows: list[Call] = []
    for op in rec.ops:
        if op.func not in ADDS:
            continue
        pair = _operands(rec, op.index)
        if isinstance(pair, str):
            verdicts[op.index] = pair
            continue
        adds += 1
        judged = _judge(rec, op.index, pair, blocks, windows)
        if isinstance(judged, str):
            conv_free += judged.startswith("no convolution")
            verdicts[op.index] = judged
            continue
        if judged.call is not None:
            windows.append(rec.calls[judged.call])
        blocks.append(judged)
        verdicts[op.index] = BLOCK
    # a module block that came after an addition inside it was recognised: drop those inner ones
    kept = []
    for b in blocks:
        holder = next((c for c in windows if c.holds(b.add)), None) if b.call is None else None
        if holder is not None:
            verdicts[b.add] = _inside(holder)
        else:
            kept.append(b)
    return Found(tuple(kept), conv_free, adds, tuple(sorted(verdicts.items())))


__all__ = ["BLOCK", "Found", "Residual", "find_residuals", "path_ops"]
