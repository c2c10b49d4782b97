"""Why a model is, or is not, a residual network: every addition its forward made, and what became of each.

A trace recognises blocks by what the forward computes (``residual.find_residuals``); a refusal ("its forward adds
tensors, but none is a block's input…") says only the outcome. ``explain(model)`` lists each addition with the
module it ran in, its operands' shapes, and the block it closes or the reason it closes none: a broadcast, two
inputs added, a feature pyramid's merge, no convolution on either side, a Res2Net scale inside a branch.
``Recording.table()`` shows every op, as torch.fx's ``print_tabular`` shows a graph.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .dataflow import Recording
from .layout import EXPLAIN, example_input, recognise
from .residual import BLOCK, Residual, find_residuals
from .tracer import submodule, run_recorded


@dataclass(frozen=True)
class AdditionRecord:
    """One addition of the forward and what it is."""

    op: int  # its index in the recording
    function: str  # "add_", "__iadd__", "add" ...
    where: str  # the module it ran in ("layer2.0"; "" for the model's own forward)
    shapes: tuple[tuple[int, ...], ...]  # its tensor operands' shapes, batch included
    block: str | None  # the block it closes (its name in the trace), else None
    reason: str  # "a residual block", or why not


@dataclass(frozen=True)
class Explanation:
    """A model's additions, and the outcome: recognised (so many blocks in so many stages) or refused, and why."""

    model: str
    input_shape: tuple[int, ...]
    recognised: bool
    outcome: str
    additions: tuple[AdditionRecord, ...]
    recording: Recording | None = None  # the forward itself (``recording.table()``), not serialised

    def table(self) -> str:
        """The outcome, then one row per addition."""
        rows = [("op", "function", "in module", "operands", "block", "why")]
        for a in self.additions:
            rows.append((str(a.op), a.function, a.where or "-", " + ".join("×".join(map(str, s)) for s in a.shapes),
                         a.block or "-", a.reason))
        widths = [max(len(r[k]) for r in rows) for k in range(5)]
        lines = ["  ".join([*(c.ljust(w) for c, w in zip(r[:5], widths)), r[5]]) for r in rows]
        head = f"{self.model} on a {'×'.join(map(str, self.input_shape))} input: {self.outcome}"
        if not self.additions:
            return f"{head}\n(its forward made no addition)"
        return "\n".join([head, "", lines[0], "  ".join("-" * w for w in widths) + "  ---", *lines[1:]])

    __str__ = table

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("recording")
        return d


def explain(model: nn.Module, input_size: int = 224, backbone: str | None = None) -> Explanation:
    """Record ``model`` (or its submodule ``backbone``) once on the meta device (nothing is allocated, the model
    is not touched) and say, for every addition it made, whether it is a residual block and why."""
    root = submodule(model, backbone)
    where = f"{backbone!r} ({type(root).__name__})" if backbone else type(model).__name__
    x = example_input(root, input_size)
    rec = run_recorded(root, x, torch.device("meta"), where)
    found = find_residuals(rec)
    layout = recognise(rec, found)
    names = {} if isinstance(layout, str) else {b.residual.add: b.name for b in layout.blocks}
    blocks = {r.add: r for r in found.blocks}
    additions = tuple(
        AdditionRecord(i, rec.ops[i].func, rec.where(i), tuple(rec.shapes[v] for v in rec.ops[i].inputs),
                       names.get(i), _described(rec, blocks[i]) if reason == BLOCK and i in blocks else reason)
        for i, reason in found.verdicts)
    if isinstance(layout, str):
        reason = layout.removesuffix(f"; {EXPLAIN}")  # (the hint that points here)
        return Explanation(where, tuple(x.shape), False, f"not a residual network: {reason}", additions, rec)
    outcome = f"a residual network of {len(layout.blocks)} blocks in {len(layout.stages)} stages" + \
        (f", its backbone at {layout.path!r}" if layout.path else "")
    return Explanation(where, tuple(x.shape), True, outcome, additions, rec)


def _described(rec: Recording, r: Residual) -> str:
    """``a residual block: 2 convolutions + the identity`` (or + a shortcut of its ops)."""
    convs = sum(1 for i in r.branch_ops if rec.ops[i].conv is not None)
    shortcut = "the identity" if r.identity else \
        "a shortcut of " + " → ".join(dict.fromkeys(rec.ops[i].func for i in r.shortcut_ops))
    return f"{BLOCK}: a branch of {convs} convolution{'s' * (convs != 1)} + {shortcut}"


__all__ = ["AdditionRecord", "Explanation", "explain"]
