"""A forward taped once, then replayed from an op onward with chosen residual additions lesioned.

``FullRun`` is a forward that numbers its ops as the recorder does (``modes.LightRun``), hands watched values
to callbacks, and tapes every torch call: the function, and for each op the shapes, strides and dtypes of what
it returned and whether it wrote into its first argument. It keeps a copy of the values a replay will need (the
values made before a cut and read after it).

``Replay`` runs the same forward again: every op before the cut is not computed (it returns the kept copy of a
value that is read later, or an uninitialised tensor of the right shape for one that is not), every op from the
cut on is computed, and a lesioned addition returns its shortcut operand plus zero: the block then computes
act(shortcut(x)). The forward's Python runs unchanged, so any model whose dataflow the recorder followed
replays; a call that is not the taped one (the forward took another path) is noted, and the replay is then
discarded by the caller (``Replay.diverged``).

What a replay equals is ``reference.lesioned_forward``: the whole forward with the lesioned additions returning
their shortcut + 0. Why skipping the ops before the cut is safe, and where it is not: those ops return what the
full run made (the kept copy of every value read after the cut, so what the rest computes from is exact), but a
call that makes no tensor runs for real on whatever it is given, and before the cut that may be a stand-in of
uninitialised memory. A forward whose Python reads values before the cut (``.item()``, ``if x.sum() > 0``,
``.tolist()``) could then take other decisions or numbers unnoticed. That is what ``measure._lesioned_logits`` checks
on each plan's first batch: a replay from the cut against a replay from op 0 with the same block lesioned, bit
for bit; a cut that differs is always lesioned from op 0 instead. (A forward whose value-dependent Python agrees
on the first batch and not on a later one is the case that check cannot see.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..tracing.dataflow import OpWatch, op_name, tensors_in, tensors_out
from ..tracing.modes import HeldMode

# How an op returned its tensors: one tensor; a plain tuple or list of tensors; anything else (opaque: an op
# before a cut that returned one cannot be stood in for, so no cut after it replays).
TENSOR, SEQUENCE, OPAQUE = "tensor", "sequence", "opaque"


@dataclass(frozen=True)
class TapedOp:
    func: Any
    form: str
    container: type | None  # tuple or list, for a sequence
    metas: tuple[tuple[tuple[int, ...], tuple[int, ...], torch.dtype, torch.device], ...]  # per tensor returned
    inplace: bool  # returned its first argument (``add_``, ``+=``, ``relu_``)


class FullRun(HeldMode):
    """The full forward: callbacks on watched op outputs, every call taped, the values in ``keep`` copied."""

    def __init__(self, watch: OpWatch, keep: set[tuple[int, int]]) -> None:
        super().__init__()
        self.watch, self.keep = watch, keep
        self.calls: list[tuple[Any, int]] = []  # (function, its op index or -1 for a call that made no tensor)
        self.ops: list[TapedOp] = []
        self.kept: dict[tuple[int, int], Tensor] = {}  # (op, which output) -> a copy made as the op returned

    def __torch_function__(self, func, types, args=(), kwargs=None) -> Any:  # noqa: ANN001 - torch's signature
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        produced = tensors_out(out)
        if not produced:
            self.calls.append((func, -1))
            return out
        i = self.count
        self.calls.append((func, i))
        self.ops.append(_taped(func, out, produced, args, kwargs))
        for pos, t in enumerate(produced):
            if (i, pos) in self.keep:
                self.kept[i, pos] = t.detach().clone()
        for pos, fn in self.watch.get(i, ()):
            fn(produced[pos])
        self.count += 1
        return out

    def signature(self) -> tuple[str, ...]:
        return tuple(op_name(op.func) for op in self.ops)


def _taped(func: Any, out: Any, produced: list[Tensor], args: tuple, kwargs: dict) -> TapedOp:
    metas = tuple((tuple(t.shape), tuple(t.stride()), t.dtype, t.device) for t in produced)
    if isinstance(out, Tensor):
        form, container = TENSOR, None
    elif type(out) in (tuple, list) and all(isinstance(o, Tensor) for o in out):
        form, container = SEQUENCE, type(out)
    else:
        form, container = OPAQUE, None
    if "out" in kwargs:
        form = OPAQUE
    inplace = isinstance(out, Tensor) and bool(args) and out is args[0]
    return TapedOp(func, form, container, metas, inplace)


@dataclass(frozen=True)
class Lesion:
    """One addition to lesion: its op, and which of its tensor operands is the branch F(x)."""

    op: int
    branch_arg: int


class Replay(HeldMode):
    """The taped forward again, computed from op ``cut`` on, with ``lesions`` applied."""

    def __init__(self, tape: FullRun, cut: int, lesions: dict[int, Lesion]) -> None:
        super().__init__()
        self.tape, self.cut, self.lesions = tape, cut, lesions
        self.call = 0
        self.diverged = False

    def __torch_function__(self, func, types, args=(), kwargs=None) -> Any:  # noqa: ANN001 - torch's signature
        kwargs = kwargs or {}
        taped = self.tape.calls[self.call] if self.call < len(self.tape.calls) else (None, -1)
        self.call += 1
        if taped[0] is not func and taped[0] != func:  # (a method-wrapper, ``Tensor.shape.__get__``, is made anew
            self.diverged = True                        # at each access: equal, not the same object)
        i = taped[1] if not self.diverged else -1
        if i < 0:
            out = func(*args, **kwargs)
            if not self.diverged and tensors_out(out):
                self.diverged = True  # made a tensor where the tape's call did not
            return out
        self.count += 1
        if i < self.cut:
            return self._stand_in(i, args)
        if i in self.lesions:
            return shortcut_plus_zero(self.lesions[i], self.tape.ops[i].inplace, args, kwargs)
        return func(*args, **kwargs)

    def _stand_in(self, i: int, args: tuple) -> Any:
        """What op ``i`` returned in the full run, without computing it: the copy of a value read after the cut,
        an uninitialised tensor of its shape for any other."""
        op = self.tape.ops[i]
        if op.form == OPAQUE:
            self.diverged = True  # cannot stand in for it; the caller replays from scratch
            return _empty(op.metas[0])
        tensors = []
        for pos, meta in enumerate(op.metas):
            kept = self.tape.kept.get((i, pos))
            if op.inplace:
                target = args[0]
                if kept is not None:
                    target.copy_(kept)
                tensors.append(target)
            else:
                tensors.append(kept.clone() if kept is not None else _empty(meta))
        return tensors[0] if op.form == TENSOR else op.container(tensors)


def _empty(meta: tuple) -> Tensor:
    shape, stride, dtype, device = meta
    return torch.empty_strided(shape, stride, dtype=dtype, device=device)


def shortcut_plus_zero(lesion: Lesion, inplace: bool, args: tuple, kwargs: dict) -> Tensor:
    """The lesioned addition: its branch operand taken as zero, shortcut + 0, written where the op wrote
    (``inplace``: into its first argument, as ``out.add_(x)`` and ``out += x`` do)."""
    operands = tensors_in((args, kwargs), [])
    result = torch.add(operands[1 - lesion.branch_arg], 0.0)
    return args[0].copy_(result) if inplace else result


__all__ = ["FullRun", "Lesion", "Replay", "shortcut_plus_zero"]
