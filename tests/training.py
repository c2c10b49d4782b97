"""A model trained in a test on the test's own generated images: full-batch Adam on cross-entropy, seeded."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float = 0.01) -> nn.Module:
    """``model`` fitted to (x, y) in ``steps`` full-batch steps, returned in eval mode."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def hooked_output(model: nn.Module, x: torch.Tensor, hooks: list[tuple[nn.Module, object]]) -> torch.Tensor:
    """``model(x)`` without gradients, each ``(module, fn)`` a forward hook for that pass only."""
    handles = [m.register_forward_hook(fn) for m, fn in hooks]
    try:
        with torch.no_grad():
            return model(x)
    finally:
        for h in handles:
            h.remove()
