"""A batch's lesion numbers: the full model's output, then each block lesioned alone and each k-removal draw,
each a replay from the earliest lesioned addition (what comes before it is the full run's), as partials that
merge exactly (counts, and float64 sums in a fixed order).

Per lesion: top-1 correct (images with a label), top-1 agreement with the full model, the summed KL divergence
KL(full ‖ lesioned) of the softmax outputs; per block also ‖F(x)‖ / ‖shortcut(x)‖ summed over the images (the
magnitude proxy, from the same images). A cut's replay is checked once per plan (on its first batch) against a
replay from op 0 with the same block lesioned, bit for bit; a cut that differs is always lesioned from op 0
(why: ``replay``'s docstring; what the replays equal: ``reference.lesioned_forward``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from ..tracing.dataflow import Watch
from ..tracing.static import padded, real_rows
from ..tracing.watch import Plan, logits_of
from .partial import LESION_FIELDS, LesionPartial
from .plan import LesionPlan, lesion_planned
from .replay import FullRun, Replay


class LesionError(ValueError):
    """A model or output a lesion study cannot use; the message says why."""


@dataclass(frozen=True)
class _Scores:
    correct: int
    agree: int
    kl: float


def _scores(full: Tensor, logits: Tensor, targets: Tensor) -> _Scores:
    log_p, log_q = torch.log_softmax(full.double(), 1), torch.log_softmax(logits.double(), 1)
    kl = (log_p.exp() * (log_p - log_q)).sum(1)
    kl = torch.where(torch.isfinite(kl), kl, torch.full_like(kl, float("inf"))).sum()
    top = logits.argmax(1)
    labelled = targets >= 0
    return _Scores(int((top[labelled] == targets[labelled]).sum()), int((top == full.argmax(1)).sum()), float(kl))


def _logits(out: object, name: str) -> Tensor:
    logits = logits_of(out)
    if logits is None:
        raise LesionError(f"{name} returns no class scores (N×K): a lesion study compares outputs by class; "
                          "give a classifier (a backbone's features have no top-1)")
    return logits


def _full(model: nn.Module, x: Tensor, lp: LesionPlan, also: Callable[[Plan], Watch] | None, n: int | None = None
          ) -> tuple[FullRun, Tensor, np.ndarray]:
    """The full forward, taped, keeping every cut's values; each block's ‖F(x)‖ / ‖shortcut(x)‖ per image
    (and ``also``'s callbacks: the dataset run's statistics come from the same forward), for the first ``n``
    images (the rest pad a model file's static batch)."""
    squares: dict[tuple[int, str], Tensor] = {}
    n = len(x) if n is None else n

    def keep(j: int, part: str):  # noqa: ANN202
        return lambda t: squares.__setitem__((j, part), t.detach()[:n].flatten(1).double().pow(2).sum(1))

    watch: dict[int, list] = {v: list(fns) for v, fns in real_rows(also(lp.plan) if also else {}, n, len(x)).items()}
    for j, b in enumerate(lp.blocks):
        watch.setdefault(b.branch, []).append(keep(j, "branch"))
        watch.setdefault(b.shortcut, []).append(keep(j, "shortcut"))
    run = FullRun(lp.plan.op_watch(watch, x), lp.keep)
    with run:
        out = model(x)
    ratio = np.zeros(len(lp.blocks))
    if run.signature() == lp.plan.signature:
        ratio = np.array([float((squares[j, "branch"].sqrt() / squares[j, "shortcut"].sqrt().clamp_min(1e-12)).sum())
                          for j in range(len(lp.blocks))])
    return run, _logits(out, lp.plan.model_name)[:n], ratio


def _signed(full: tuple[FullRun, Tensor, np.ndarray]) -> tuple[tuple[str, ...], tuple[FullRun, Tensor, np.ndarray]]:
    return full[0].signature(), full


def _replay(model: nn.Module, x: Tensor, run: FullRun, cut: int, lesions: dict, name: str) -> Tensor:
    replay = Replay(run, cut, lesions)
    with replay:
        out = model(x)
    if replay.diverged or replay.call != len(run.calls):
        raise LesionError(f"{name}'s forward took another path when a block was removed; its lesions cannot "
                          "be measured by replaying it")
    return _logits(out, name)


def _lesioned_logits(model: nn.Module, x: Tensor, lp: LesionPlan, run: FullRun, chosen: tuple[int, ...]) -> Tensor:
    """The output with the blocks ``chosen`` lesioned: a replay from the first one's addition, once that cut
    is known to give what a replay from op 0 gives (checked on the first batch, with that block lesioned)."""
    lesions = {lp.blocks[j].lesion.op: lp.blocks[j].lesion for j in chosen}
    cut, name = lp.cut_of(chosen), lp.plan.model_name
    if cut not in lp.verified:
        first = {lp.blocks[j].lesion.op: lp.blocks[j].lesion for j in range(len(lp.blocks))
                 if lp.blocks[j].lesion.op == cut}
        lp.verified[cut] = torch.equal(_replay(model, x, run, cut, first, name), _replay(model, x, run, 0, first, name))
    return _replay(model, x, run, cut if lp.verified[cut] else 0, lesions, name)


def lesion_batch(model: nn.Module, x: Tensor, targets: Tensor, chosen_draws: list[tuple[int, ...]],
                 also: Callable[[Plan], Watch] | None = None, replan: Callable[[], None] | None = None) -> LesionPartial:
    """One batch's partial (``targets``: each image's class, -1 without one; ``chosen_draws``: the blocks of
    each k-removal draw, indices into the plan's blocks; ``also``/``replan``: as ``watched_run``'s)."""
    x, n = padded(model, x)  # a model file's static batch: padded, the padding never counted
    with torch.no_grad():
        lp, (run, full, ratio) = lesion_planned(model, x, lambda p: _signed(_full(model, x, p, also, n)), replan)
        targets = targets.to(full.device)
        targets = torch.where(targets < full.shape[1], targets, torch.full_like(targets, -1))
        singles = [_scores(full, _lesioned_logits(model, x, lp, run, (j,))[:n], targets) for j in range(len(lp.blocks))]
        multi = [_scores(full, _lesioned_logits(model, x, lp, run, c)[:n], targets) for c in chosen_draws]
        labelled = targets >= 0
        i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
        f64 = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
        return LesionPartial(i64(n), i64(int(labelled.sum())),
                             i64(int((full.argmax(1)[labelled] == targets[labelled]).sum())),
                             i64([s.correct for s in singles]), i64([s.agree for s in singles]),
                             f64([s.kl for s in singles]), f64(ratio),
                             i64([s.correct for s in multi]), i64([s.agree for s in multi]), f64([s.kl for s in multi]))


__all__ = ["LESION_FIELDS", "LesionError", "LesionPartial", "lesion_batch"]
