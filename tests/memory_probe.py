"""Memory measured on real runs, written here independently of explorer.tracing.memory (which estimates it on
the meta device): storages are told apart by their data pointers, live tensors followed by weak references."""
from __future__ import annotations

import weakref

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


def _state_pointers(model: nn.Module) -> set[int]:
    return {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}


def saved_for_backward(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the unique storages autograd saves in one train-mode forward, parameters and buffers excluded."""
    skip = _state_pointers(model)
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in skip:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    model.eval()
    return sum(seen.values())


class _Live(TorchDispatchMode):
    def __init__(self, skip: set[int]) -> None:
        super().__init__()
        self.skip, self.refs, self.size, self.live, self.peak = skip, {}, {}, 0, 0

    def track(self, t: torch.Tensor) -> None:
        ptr = t.untyped_storage().data_ptr()
        if ptr in self.skip or not t.untyped_storage().nbytes():
            return
        if ptr not in self.refs:
            self.refs[ptr], self.size[ptr] = 0, t.untyped_storage().nbytes()
            self.live += self.size[ptr]
            self.peak = max(self.peak, self.live)
        self.refs[ptr] += 1
        weakref.finalize(t, self.drop, ptr)

    def drop(self, ptr: int) -> None:
        self.refs[ptr] -= 1
        if self.refs[ptr] == 0:
            del self.refs[ptr]
            self.live -= self.size.pop(ptr)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.track(t)
        return out


def inference_peak(model: nn.Module, x: torch.Tensor) -> int:
    """The largest total of live activation storages (the input included) during a no_grad forward."""
    model.eval()
    mode = _Live(_state_pointers(model))
    with torch.no_grad(), mode:
        mode.track(x)
        model(x)
    return mode.peak
