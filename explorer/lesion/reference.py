"""What a lesion is, as plainly as it can be computed: the model's forward with each lesioned block's addition
returning its shortcut operand + 0, so that the block computes act(shortcut(x)) (Veit et al. 2016: the block's
residual branch removed at test time).

``measure`` computes the same outputs faster, by replaying one taped forward from the first lesioned addition on
(``replay``); this is what those replays equal, and what the tests hold them to.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor, nn

from ..tracing.dataflow import op_name, tensors_out
from ..tracing.modes import HeldMode
from ..tracing.ops import INPLACE_ADDS
from .plan import lesion_plan_for
from .replay import Lesion, shortcut_plus_zero


class _Lesioned(HeldMode):
    """Numbers ops as the recorder does; the lesioned additions return shortcut + 0 (where the op wrote)."""

    def __init__(self, lesions: dict[int, Lesion]) -> None:
        super().__init__()
        self.lesions = lesions

    def __torch_function__(self, func, types, args=(), kwargs=None) -> Any:  # noqa: ANN001 - torch's signature
        kwargs = kwargs or {}
        lesion = self.lesions.get(self.count)
        out = func(*args, **kwargs) if lesion is None else \
            shortcut_plus_zero(lesion, op_name(func) in INPLACE_ADDS, args, kwargs)
        if tensors_out(out):
            self.count += 1
        return out


def lesioned_forward(model: nn.Module, x: Tensor, blocks: Iterable[str] = ()) -> Any:
    """``model(x)`` with the named residual blocks lesioned (their addition returns the shortcut alone), under
    ``torch.no_grad``; names as the trace gives them (``layer2.0``)."""
    lp = lesion_plan_for(model, x)
    by_name = {b.name: b.lesion for b in lp.blocks}
    wanted = list(blocks)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise KeyError(f"no block {unknown[0]!r} in {lp.plan.model_name} (blocks: {', '.join(by_name)})")
    with torch.no_grad(), _Lesioned({by_name[n].op: by_name[n] for n in wanted}):
        return model(x)


__all__ = ["lesioned_forward"]
