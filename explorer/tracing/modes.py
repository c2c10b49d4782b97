"""Forwards run under a torch function mode that numbers their ops as ``dataflow.Recorder`` does (a call is an
op when it returns a tensor), holding the shared side of torch's patch lock (``patching.forwards``) meanwhile."""
from __future__ import annotations

from typing import Any

from torch import Tensor
from torch.overrides import TorchFunctionMode

from .dataflow import OpWatch, op_name, tensors_out
from .patching import forwards


class HeldMode(TorchFunctionMode):
    """A mode whose runs hold ``forwards()`` and count ops from 0 (``count``)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self._held = forwards()

    def __enter__(self) -> HeldMode:
        self._held.__enter__()
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self._held.__exit__(*exc)


class LightRun(HeldMode):
    """A forward that numbers its ops as ``Recorder`` does, and nothing more: it hands chosen op outputs to
    callbacks and keeps the sequence of functions, so a run can be checked against a recording of the same
    model. It costs about as much as an empty mode (a few % of a forward), where a recording costs a tenth."""

    def __init__(self, watch: OpWatch) -> None:
        super().__init__()
        self.watch, self.funcs = watch, []

    def __torch_function__(self, func, types, args=(), kwargs=None) -> Any:  # noqa: ANN001 - torch's signature
        out = func(*args, **(kwargs or {}))
        if not isinstance(out, Tensor):
            produced = tensors_out(out)
            if not produced:
                return out
        else:
            produced = (out,)
        self.funcs.append(func)
        for pos, fn in self.watch.get(self.count, ()):
            fn(produced[pos])
        self.count += 1
        return out

    def signature(self) -> tuple[str, ...]:
        return tuple(op_name(f) for f in self.funcs)


__all__ = ["HeldMode", "LightRun"]
