"""The ReLU-gradient warm-up for deep blocks (Lucid's ``redirected_relu_grad``): from noise, a deep channel is
often 0 everywhere, every ReLU on the way blocks the gradient, and the picture never starts to move. For the first
steps each ReLU's backward lets a gradient through where it would raise a negative input, for a picture whose
ordinary gradient there is all zero."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

from ..tracing.dataflow import op_name

RELUS = frozenset({"relu", "relu_"})


class _Redirected(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        plain = grad * (x > 0)
        up = grad * ((x < 0) & (grad < 0))  # minimising −activation: a negative gradient raises the input
        dead = plain.flatten(1).abs().amax(1).eq(0).view(-1, *[1] * (x.dim() - 1))
        return torch.where(dead, up, plain)


class RedirectedRelu(TorchFunctionMode):
    """Every ReLU of the forward (``F.relu``, ``nn.ReLU``, in place or not, an exported program's ``aten.relu``)
    runs as ``_Redirected``; an in-place one returns a new tensor (the forward uses what it returns)."""

    def __torch_function__(self, func, types, args=(), kwargs=None) -> Any:  # noqa: ANN001 - torch's signature
        if op_name(func) in RELUS and args and isinstance(args[0], Tensor) and args[0].requires_grad:
            return _Redirected.apply(args[0])
        return func(*args, **(kwargs or {}))


__all__ = ["RedirectedRelu"]
