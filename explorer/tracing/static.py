"""The input a model file declares: a ``torch.export`` program is static by default (``torch.export.export(model,
(torch.zeros(2, 3, 32, 32),))`` takes batches of exactly 2 images of 32×32 px) and an ONNX graph may be too.

The loader stamps the declared shape on the module it returns (``declare``); every run reads it here: traces and
plans are made at its batch, a run at another size is refused in one line naming the size it takes, and a
smaller batch is padded with zero images whose results are cut off before anyone sees them (``padded``). An
ONNX graph's shape is only the default size: onnx2torch's modules take others.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

ATTRIBUTE = "_explorer_declared_input"
Declared = tuple[int | None, ...]  # N, C, H, W; None where the program takes any size


class WrongInputSize(ValueError):
    """A run at a size the model file does not take; the message names the size it does."""


def declare(module: nn.Module, shape: Declared | None, strict: bool = True) -> nn.Module:
    """Stamp ``shape`` on ``module``. ``strict=False`` (an ONNX graph, whose exporter fixes every dimension it
    was not told to leave free, while the converted modules mostly take any): the size is only the default."""
    if shape is not None and len(shape) == 4:
        setattr(module, ATTRIBUTE, (tuple(shape), strict))
    return module


def declared(model: nn.Module) -> Declared | None:
    """The shape a model file fixes, where it is enforced (a torch.export program's)."""
    found = getattr(model, ATTRIBUTE, None)
    return found[0] if found is not None and found[1] else None


def fixed_size(model: nn.Module) -> int | None:
    """The side a model file was made for (H = W; an ONNX graph's too), else None."""
    found = getattr(model, ATTRIBUTE, None)
    shape = found[0] if found is not None else None
    return shape[2] if shape is not None and shape[2] is not None and shape[2] == shape[3] else None


def fixed_batch(model: nn.Module) -> int | None:
    shape = declared(model)
    return shape[0] if shape is not None else None


def check_size(model: nn.Module, height: int, width: int | None = None) -> None:
    """Refuse a run at another size than the file declares, naming the size it takes."""
    shape = declared(model)
    if shape is None:
        return
    want = (shape[2], shape[3])
    if any(w is not None and w != got for w, got in zip(want, (height, width or height))):
        side = "×".join("any" if w is None else str(w) for w in want)
        raise WrongInputSize(f"this model file takes {side} px inputs (its exported static shape), not "
                             f"{height}×{width or height}: run it at {want[0] or want[1]} px (the crop or input size)")


def padded(model: nn.Module, x: Tensor) -> tuple[Tensor, int]:
    """``x`` padded with zero images to the batch the model's file fixes, and how many rows are real."""
    check_size(model, int(x.shape[-2]), int(x.shape[-1]))
    batch, n = fixed_batch(model), int(x.shape[0])
    if batch is None or n == batch:
        return x, n
    if n > batch:
        raise WrongInputSize(f"this model file takes batches of exactly {batch} (its exported static shape); "
                             f"got {n}: run it in batches of {batch}")
    pad = x.new_zeros((batch - n, *x.shape[1:])).contiguous(memory_format=_format(x))
    return torch.cat([x, pad]).contiguous(memory_format=_format(x)), n


def _format(x: Tensor) -> torch.memory_format:
    return torch.channels_last if x.dim() == 4 and not x.is_contiguous() and \
        x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format


def real_rows(watch: dict[int, list[Callable[[Tensor], None]]], n: int, batch: int
              ) -> dict[int, list[Callable[[Tensor], None]]]:
    """``watch``'s callbacks, each handed only the real rows of a padded batch."""
    if n == batch:
        return watch
    return {v: [lambda t, f=f: f(t[:n]) for f in fns] for v, fns in watch.items()}


def cut(output: Any, n: int, batch: int) -> Any:
    """A padded batch's output without the padding (a tensor, ``.logits``, or a dict of tensors)."""
    if n == batch:
        return output
    if isinstance(output, Tensor):
        return output[:n]
    if isinstance(output, dict):
        return {k: cut(v, n, batch) for k, v in output.items()}
    if hasattr(output, "logits") and isinstance(output.logits, Tensor):
        return output.logits[:n]
    return output


__all__ = ["ATTRIBUTE", "Declared", "WrongInputSize", "check_size", "cut", "declare", "declared", "fixed_batch",
           "fixed_size", "padded", "real_rows"]
