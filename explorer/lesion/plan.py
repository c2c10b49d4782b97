"""What a lesion study of a model needs from one recording of it: each residual block's addition (the op a
lesion replaces) and, for each cut, the values made before it and read after it (what a replay is given).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

from torch import Tensor, nn

from ..tracing.layout import Layout
from ..tracing.plans import PlanCache, input_key, planned
from ..tracing.watch import Plan, layout_of_run, layout_on_meta, plan_of
from .replay import Lesion

R = TypeVar("R")

@dataclass(frozen=True)
class LesionBlock:
    name: str
    projection: bool
    lesion: Lesion  # its addition
    branch: int  # values
    shortcut: int


@dataclass
class LesionPlan:
    """A model's blocks for lesions at one input shape, and the values to keep for every cut."""

    plan: Plan
    blocks: tuple[LesionBlock, ...]
    live: dict[int, frozenset[tuple[int, int]]]  # cut (an addition's op) -> (op, output) of values read from it on
    verified: dict[int, bool]  # cut -> whether its replay gave the full output bit for bit (checked once)
    outputs: int | None = None  # the width of the forward's N×K output, if it returns one

    @property
    def signature(self) -> tuple[str, ...]:
        return self.plan.signature

    @property
    def keep(self) -> set[tuple[int, int]]:
        return set().union(*self.live.values()) if self.live else set()

    def cut_of(self, chosen: tuple[int, ...]) -> int:
        return min(self.blocks[j].lesion.op for j in chosen)


def _live(layout: Layout, made_by: dict[int, tuple[int, int]], cut: int, skip: tuple[int, int]) -> frozenset:
    """The values made before op ``cut`` that an op from ``cut`` on reads (or the forward returns), except the
    lesioned addition's branch operand (``skip``: (op, value)), which the lesion never reads."""
    rec = layout.recording
    needed: set[tuple[int, int]] = set()
    for op in rec.ops[cut:]:
        for v in op.inputs:
            if (op.index, v) != skip and v in made_by and made_by[v][0] < cut:
                needed.add(made_by[v])
    for v in rec.outputs:
        if v in made_by and made_by[v][0] < cut:
            needed.add(made_by[v])
    return frozenset(needed)


def lesion_plan_of(model: nn.Module, layout: Layout, x: Tensor) -> LesionPlan:
    plan = plan_of(model, layout, x)
    blocks = []
    live = {}
    for b in layout.blocks:
        r = b.residual
        blocks.append(LesionBlock(b.name, b.projection, Lesion(r.add, r.branch_arg), r.branch, r.shortcut))
        live[r.add] = _live(layout, plan.made_by, r.add, (r.add, r.branch))
    shapes = [layout.recording.shapes[v] for v in layout.recording.outputs if v in layout.recording.shapes]
    outputs = shapes[0][1] if shapes and len(shapes[0]) == 2 else None
    return LesionPlan(plan, tuple(blocks), live, {}, outputs)


_PLANS: PlanCache[LesionPlan] = PlanCache()


def lesion_plan_for(model: nn.Module, x: Tensor) -> LesionPlan:
    """The lesion plan of ``model`` for inputs shaped like ``x`` (recorded on the meta device, cached)."""
    return _PLANS.get(model, input_key(x), lambda: lesion_plan_of(model, layout_on_meta(model, x), x))


def lesion_planned(model: nn.Module, x: Tensor, attempt: Callable[[LesionPlan], tuple[tuple[str, ...], R]],
                   replan: Callable[[], None] | None = None) -> tuple[LesionPlan, R]:
    """``attempt`` (a full forward under the plan) under the kept plan; where this input took another path, again
    under a plan from its own recording (``tracing.plans.planned``)."""
    return planned(_PLANS, model, input_key(x), attempt,
                   lambda _old: (lesion_plan_of(model, layout_of_run(model, x), x), None),
                   make=lambda: lesion_plan_of(model, layout_on_meta(model, x), x), replan=replan)


__all__ = ["LesionBlock", "LesionPlan", "lesion_plan_for", "lesion_plan_of", "lesion_planned"]
