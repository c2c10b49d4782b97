"""Receptive fields over a recorded forward pass: for every tensor, the side of the input square that can affect
one of its positions, through the convolutions and pools that really ran, along every path (a branch and its
shortcut, Res2Net's scales, a selective kernel's two paths: the largest wins).

A global pool (SE/ECA attention, split attention) lets every later position see the whole input: flagged
``global_context``, while ``size`` still counts the convolutions and pools. An op that moves positions in a way
the walk cannot follow (a resize, an unfold) makes the field unknown from there on: ``walked=False``, and
``explorer.structure.analysis`` says so rather than print a wrong number.
"""
from __future__ import annotations

from .dataflow import Call, Recording
from .records import FieldRecord
from .ops import PADS, SLICES  # pads change the grid, not which positions reach an output
from .shortcuts import subsampling


def fields(rec: Recording, base: Call | None = None) -> dict[int, FieldRecord]:
    """value -> its receptive field, for the values computed inside ``base`` (the whole recording by default)."""
    first, end = (base.first_op, base.end_op) if base is not None else (0, len(rec.ops))
    start = FieldRecord(1, 1)
    out: dict[int, FieldRecord] = {v: start for v in (base.inputs if base is not None else rec.inputs)}
    for op in rec.ops[first:end]:
        ins = [out[v] for v in op.inputs if v in out]
        if not ins:
            for v in op.outputs:
                out[v] = start
            continue
        size, stride = max(f.size for f in ins), max(f.stride for f in ins)
        context, walked = any(f.global_context for f in ins), all(f.walked for f in ins)
        if op.spatial is not None:
            s = op.spatial
            size, stride = size + s.dilation * (s.kernel - 1) * stride, stride * s.stride
        elif op.reduces_space:
            context = True
        elif op.func in SLICES and (k := subsampling(rec.shapes[op.inputs[0]], rec.shapes[op.outputs[0]])) > 1:
            stride *= k  # a strided slice (option A's x[:, :, ::2, ::2]): a 1×1 pool with that stride
        elif op.func not in PADS and _moves_positions(rec, op.inputs, op.outputs):
            walked = False
        for v in op.outputs:
            out[v] = FieldRecord(size, stride, context, walked)
    return out


def _moves_positions(rec: Recording, inputs: tuple[int, ...], outputs: tuple[int, ...]) -> bool:
    """An unknown op whose output grid is not its input's (a resize, a pixel shuffle, an unfold)."""
    grids = {rec.shapes[v][2:] for v in inputs if len(rec.shapes[v]) == 4}
    return any(len(rec.shapes[v]) == 4 and rec.shapes[v][2:] not in grids for v in outputs) if grids else False


__all__ = ["fields"]
