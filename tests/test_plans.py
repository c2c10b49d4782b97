"""The one planner (#37, ``tracing.plans.planned``): a trace, a watched run and a lesion batch each run the model
lightly under the plan kept for this model and input, and where the forward now runs other ops (here: a flag
the model reads, which no fingerprint of its weights sees) they plan again from this input, say so (``replan``),
keep the fresh plan, and give what the test computes itself with the model's own switches and hooks."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.lesion import lesion_batch
from explorer.lesion.plan import lesion_plan_for
from explorer.tracing import trace
from explorer.tracing.watch import Plan, plan_for, watched_run


class Block(nn.Module):
    """relu(F(x) + x); with ``lesioned``, relu(x): what a lesion of its addition means."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(c, c, 3, 1, 1), nn.Conv2d(c, c, 3, 1, 1)
        self.lesioned = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.b(F.relu(self.a(x)))
        return F.relu(x if self.lesioned else out + x)


class Switched(nn.Module):
    """A small ResNet whose forward takes another path when ``flip`` is set (its input mirrored first)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem, self.blocks, self.head = nn.Conv2d(3, 8, 3, 1, 1), nn.Sequential(Block(8), Block(8)), nn.Linear(8, 5)
        self.flip = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.flip:
            x = torch.flip(x, [3])
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


def test_a_trace_follows_a_forward_that_takes_another_path() -> None:
    model = Switched().eval()
    first = trace(model, input_size=32)
    assert trace(model, input_size=32) is first
    model.flip = True
    second = trace(model, input_size=32)
    assert second is not first and trace(model, input_size=32) is second  # re-planned, and the new plan kept
    assert [b.name for b in second.blocks] == ["blocks.0", "blocks.1"]


def test_a_watched_run_plans_again_from_its_own_input() -> None:
    model, x = Switched().eval(), torch.randn(2, 3, 16, 16)
    old = plan_for(model, x)
    model.flip = True
    seen: dict[str, torch.Tensor] = {}
    resets: list[int] = []

    def watch(plan: Plan) -> dict:
        return {b.output: [lambda t, n=b.name: seen.__setitem__(n, t.clone())] for b in plan.blocks}

    with torch.no_grad():
        plan, out = watched_run(model, x, watch, replan=lambda: (resets.append(1), seen.clear()))
        hooked: dict[str, torch.Tensor] = {}
        handles = [model.blocks[i].register_forward_hook(lambda _m, _i, o, n=f"blocks.{i}": hooked.__setitem__(n, o))
                   for i in range(2)]
        try:
            expected = model(x)
        finally:
            for h in handles:
                h.remove()
    assert resets == [1] and plan.signature != old.signature and plan.model_name == old.model_name
    assert plan_for(model, x) is plan
    assert torch.equal(out, expected) and seen.keys() == hooked.keys()
    assert all(torch.equal(seen[n], hooked[n]) for n in hooked)


def test_a_lesion_batch_plans_again_and_lesions_the_right_additions() -> None:
    model, x = Switched().eval(), torch.randn(4, 3, 16, 16)
    targets = torch.tensor([0, 1, 2, 3])
    old = lesion_plan_for(model, x)
    model.flip = True
    resets: list[int] = []
    part = lesion_batch(model, x, targets, [(0, 1)], replan=lambda: resets.append(1))
    assert resets == [1] and lesion_plan_for(model, x).signature != old.signature

    def own(lesioned: set[int]) -> torch.Tensor:
        for i, b in enumerate(model.blocks):
            b.lesioned = i in lesioned
        try:
            with torch.no_grad():
                return model(x)
        finally:
            for b in model.blocks:
                b.lesioned = False

    full = own(set())
    assert int(part.full_correct) == int((full.argmax(1) == targets).sum())
    for j in range(2):
        logits = own({j})
        assert int(part.block_correct[j]) == int((logits.argmax(1) == targets).sum())
        assert int(part.block_agree[j]) == int((logits.argmax(1) == full.argmax(1)).sum())
        kl = F.kl_div(logits.log_softmax(1), full.log_softmax(1), log_target=True, reduction="sum")
        assert float(part.block_kl[j]) == pytest.approx(float(kl), rel=1e-4, abs=1e-6)
    both = own({0, 1})
    assert int(part.draw_agree[0]) == int((both.argmax(1) == full.argmax(1)).sum())
