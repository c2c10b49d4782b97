"""Forward passes on the meta device: shapes and storages without data, so no config is too large to trace."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode


def _batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                running_var: Tensor | None, training: bool, momentum: float, eps: float) -> tuple[Tensor, ...]:
    """``aten.native_batch_norm`` on meta tensors, shaped as the CPU kernel shapes it (the batch statistics are
    empty in eval mode), without torch's Python decomposition, which costs most of a meta forward pass."""
    stats = input.shape[1] if training else 0
    return torch.empty_like(input), input.new_empty((stats,)), input.new_empty((stats,))


def _convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride: list[int], padding: list[int],
                 dilation: list[int], transposed: bool, output_padding: list[int], groups: int) -> Tensor:
    """``aten.convolution`` on meta tensors: the output shape by the formula. torch's own meta kernel is
    the same formula, but its first call imports torch._dynamo (a second of start-up)."""
    if transposed:
        return torch.ops.aten.convolution.default(input, weight, bias, stride, padding, dilation, transposed,
                                                  output_padding, groups)
    spatial = [(size + 2 * p - d * (k - 1) - 1) // s + 1
               for size, k, s, p, d in zip(input.shape[2:], weight.shape[2:], stride, padding, dilation)]
    return input.new_empty((input.shape[0], weight.shape[0], *spatial))


FAST = {torch.ops.aten.native_batch_norm.default: _batch_norm, torch.ops.aten.convolution.default: _convolution}


class MetaOps(TorchDispatchMode):
    """Runs meta ops, the slow ones by a fast equivalent; subclasses see every op's output in ``created``."""

    def created(self, out: object) -> None:
        pass

    def __torch_dispatch__(self, func, types, args=(), kwargs=None) -> Any:  # noqa: ANN001 - torch's signature
        out = FAST.get(func, func)(*args, **(kwargs or {}))
        self.created(out)
        return out


__all__ = ["MetaOps"]
