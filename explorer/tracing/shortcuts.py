"""A parameter-free shortcut named by what its ops computed, never by the class of the module that holds it.

The CIFAR family's option A is ``F.pad(x[:, :, ::2, ::2], …)`` inside whatever module the code chose (the public
code's ``LambdaLayer``, our ``ZeroPadShortcut``, an exported program's ``slice`` and ``constant_pad_nd``, an ONNX
graph's ``Slice`` and ``Pad``): each is described as "subsample s2 + zero-pad 16→32 channels", from the shapes
each op read and wrote and the value a pad filled with.
"""
from __future__ import annotations

from typing import Callable

from .dataflow import Op, Recording
from .ops import CONCATS, PADS, SLICES, ZEROS
from .records import LayerRecord



def subsampling(src: tuple[int, ...], out: tuple[int, ...]) -> int:
    """How much a slice shrinks the grid of a (N, C, H, W) tensor, keeping its channels (1: it does not)."""
    if len(src) != 4 or len(out) != 4 or src[:2] != out[:2] or src[2:] == out[2:] or min(out[2:]) < 1:
        return 1
    return max(-(-src[2] // out[2]), -(-src[3] // out[3]))


def describe(rec: Recording, ops: tuple[int, ...], name_of: Callable[[int], str]) -> tuple[LayerRecord, ...]:
    """The steps of a shortcut without parameters, one record each: ``subsample s2`` (strided slices, merged),
    ``zero-pad 16→32 channels`` (a constant pad or a concatenation along channels), pools as pools, anything
    else under its op's name."""
    out: list[LayerRecord] = []
    for i in ops:
        op = rec.ops[i]
        if not op.outputs or not op.inputs:
            continue
        src, dst = rec.shapes[op.inputs[0]], rec.shapes[op.outputs[0]]
        shape = dst[1:]
        if op.func in SLICES:
            k = subsampling(src, dst)
            if k == 1:
                continue  # a slice that keeps the grid (a view): nothing to say
            if out and out[-1].kind == "subsample":  # an exported program slices H, then W
                k, _ = max(k, out[-1].stride), out.pop()
            out.append(LayerRecord(name_of(i), "subsample", shape, stride=k))
        elif (op.func in PADS or op.func in CONCATS) and len(src) == 4 and len(dst) == 4 and dst[1] > src[1]:
            fill = _fill(rec, op)
            out.append(LayerRecord(name_of(i), f"{fill} {src[1]}→{dst[1]} channels", shape))
        elif op.spatial is not None:
            kind = "maxpool" if "max" in op.func else "avgpool2d"
            out.append(LayerRecord(name_of(i), kind, shape, op.spatial.kernel, op.spatial.stride))
        elif src != dst:
            out.append(LayerRecord(name_of(i), op.func, shape))
    return tuple(out)


def _fill(rec: Recording, op: Op) -> str:
    """``zero-pad`` for a constant pad of 0 or a concatenation with zeros made in the forward, else what it is."""
    if op.func in PADS:
        return "zero-pad" if not op.fill else f"pad ({op.fill:g})"
    made = [rec.ops[rec.producer[v]].func for v in op.inputs[1:] if v in rec.producer]
    return "zero-pad" if made and all(f in ZEROS for f in made) else "concat"


__all__ = ["describe", "subsampling"]
