"""Real runs that need a block's tensors (feature maps, class maps): the blocks are recognised once per model
and input on the meta device (``plan_for``), then a run hands each block's input, branch output F(x), shortcut
and output to callbacks the moment they are made (``watched_run``). A run whose ops differ from the plan's
(its forward took another path for these values) is planned again from its own recording."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
from torch import Tensor, nn

from .dataflow import OpWatch, Watch, record
from .layout import Layout, recognise, refusal
from .modes import LightRun
from .plans import PlanCache, input_key, planned
from .static import cut, padded, real_rows
from .tracer import build_trace, run_recorded


@dataclass(frozen=True)
class BlockValues:
    """A block's place in the plan and the values (recording ids) of its tensors."""

    name: str
    stage: int
    index: int
    projection: bool
    input: int
    branch: int  # F(x) as it enters the sum
    shortcut: int  # x, or its projection, as it enters the sum
    output: int
    rectified: bool  # its output is after a ReLU (>= 0); not so in a pre-activation block
    shortcut_kind: str = ""  # what a shape-changing shortcut computes ("1×1 conv s2 + BN", "… (option A)")


@dataclass(frozen=True)
class Plan:
    """What a run of this model at this input will make, and where its blocks' tensors are."""

    model_name: str
    blocks: tuple[BlockValues, ...]
    signature: tuple[str, ...]  # every op's function, in order
    made_by: dict[int, tuple[int, int]]  # value -> (the op that makes it, which of its outputs); the input: absent

    def op_watch(self, watch: Watch, x: Tensor) -> OpWatch:
        """``watch`` by op; what watches the model's input itself is called at once."""
        out: OpWatch = {}
        for value, fns in watch.items():
            where = self.made_by.get(value)
            for fn in fns:
                if where is None:
                    fn(x)
                else:
                    out.setdefault(where[0], []).append((where[1], fn))
        return out


_PLANS: PlanCache[Plan] = PlanCache()


def plan_of(model: nn.Module, layout: Layout, x: Tensor) -> Plan:
    """A plan from a layout (the records give the model's name)."""
    t = build_trace(model, layout, tuple(x.shape[1:]), int(x.shape[0]), "meta")
    rec = layout.recording
    made_by = {v: (op.index, k) for op in rec.ops for k, v in enumerate(op.outputs)}
    blocks = tuple(BlockValues(b.name, b.stage_index, b.index, b.projection, b.input, b.residual.branch,
                               b.residual.shortcut, b.output,
                               any(rec.ops[i].func.startswith("relu") for i in b.residual.after_ops),
                               r.downsample.kind if r.downsample else "")
                   for b, r in zip(layout.blocks, t.blocks))
    return Plan(t.model_name, blocks, tuple(op.func for op in rec.ops), made_by)


def plan_for(model: nn.Module, x: Tensor) -> Plan:
    """The plan of ``model`` for inputs shaped like ``x`` (recognised on the meta device, cached per model)."""
    return _PLANS.get(model, input_key(x), lambda: plan_of(model, layout_on_meta(model, x), x))


def layout_on_meta(model: nn.Module, x: Tensor) -> Layout:
    """The residual network of ``model`` for inputs like ``x``, recognised on the meta device; refused in one
    line (``NotAResNet``) where it is none."""
    layout = recognise(run_recorded(model, x, torch.device("meta")))
    if isinstance(layout, str):
        raise refusal(type(model).__name__, layout)
    return layout


def watched_run(model: nn.Module, x: Tensor, watch: Callable[[Plan], Watch], plan: Plan | None = None,
                replan: Callable[[], None] | None = None, whole: bool = False) -> tuple[Plan, Any]:
    """``model(x)`` with ``watch(plan)``'s callbacks on the plan's values (a light run: ops numbered, nothing
    recorded); returns the plan that held and the output. Where the run's ops are not the plan's, ``replan``
    resets what the callbacks kept and the run is repeated under a full recording, planned from itself.
    A model file with a static batch gets ``x`` padded to it; callbacks and output see only ``x``'s rows (with
    ``whole``, callbacks get the padded tensors themselves: what a gradient is taken with respect to)."""
    x, n = padded(model, x)
    rows = (lambda p: watch(p)) if whole else (lambda p: real_rows(watch(p), n, len(x)))

    def attempt(p: Plan) -> tuple[tuple[str, ...], Any]:
        light = LightRun(p.op_watch(rows(p), x))
        with light:
            out = model(x)
        return light.signature(), cut(out, n, len(x))

    def fresh(old: Plan | None) -> tuple[Plan, None]:
        new = plan_of(model, layout_of_run(model, x), x)
        return (replace(new, model_name=old.model_name) if old else new), None

    return planned(_PLANS, model, input_key(x), attempt, fresh, plan=plan,
                   make=lambda: plan_of(model, layout_on_meta(model, x), x), replan=replan)


class _Reached(Exception):
    """Raised from the callback that has the wanted value: nothing after it needs to run."""


def run_until(model: nn.Module, x: Tensor, plan: Plan, value: int) -> Tensor | None:
    """``model(x)`` run only as far as the op that makes ``value`` (a plan's block tensor), which is returned as
    the forward made it (with its graph, under ``torch.enable_grad``); None where the ops run up to there are not
    the plan's (this input takes another path: ``watched_run`` plans it again). ``x`` must fill a model file's
    static batch."""
    got: list[Tensor] = []

    def stop(t: Tensor) -> None:
        got.append(t)
        raise _Reached

    light = LightRun({})
    try:
        light.watch = plan.op_watch({value: [stop]}, x)
        with light:
            model(x)
    except _Reached:
        pass
    ops = light.signature()
    return got[0] if got and ops == plan.signature[:len(ops)] else None


def layout_of_run(model: nn.Module, x: Tensor) -> Layout:
    """The residual network of ``model`` as this input's real forward shows it (a full recording)."""
    layout = recognise(record(model, (x,)))
    if isinstance(layout, str):
        raise refusal(type(model).__name__, layout)
    return layout


def logits_of(output: Any) -> Tensor | None:
    """The class scores in a model's output (a tensor, Hugging Face's ``.logits``, a dict's ``logits`` or
    ``out``), when it is N×K; None for a backbone's feature maps."""
    if hasattr(output, "logits"):
        output = output.logits
    elif isinstance(output, dict):
        output = output.get("logits", output.get("out"))
    if isinstance(output, Tensor) and output.dim() == 2:
        return output
    return None


__all__ = ["BlockValues", "Plan", "input_key", "layout_of_run", "layout_on_meta", "logits_of", "plan_for", "plan_of",
           "run_until", "watched_run"]
