"""What a model needs in memory, measured on the meta device: nothing is allocated, any size can be asked.

Two forward passes run on meta tensors (the model's own parameters are swapped for meta stand-ins with
``torch.func.functional_call``, so a real model is never touched or copied):

- inference: ``no_grad``, eval mode, under a dispatch mode that follows every tensor the ops create and
  when its storage dies; the peak is the largest total of live activation storages (the input included).
- training: train mode, under ``saved_tensors_hooks``; the bytes of the unique storages autograd saves
  for backward, parameters and buffers excluded.

Both are attributed to the part running at the time (the stem, each block, the head), per sample; a
``MemoryProfile`` scales them to a batch size and a weight dtype without running anything again.
"""
from __future__ import annotations

import weakref
from contextlib import ExitStack, contextmanager
from typing import Any, Iterable, Iterator

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_leaves

from .hooks import eval_mode, training_flags
from .layout import meta_state
from .meta import MetaOps
from .patching import forwards
from .static import fixed_batch
from .profile import HALF_BYTES, MemoryProfile, PartMemory, totals  # the records, re-exported

Part = tuple[str, tuple[nn.Module, ...]]  # ("layer2.0", modules whose forward belongs to it)

def _key(t: Tensor) -> int:
    """Identity of a tensor's storage (views and in-place results share it); works on meta tensors too."""
    return t.untyped_storage()._cdata


class _LiveTensors(MetaOps):
    """Follows the storages ops create: one count per live tensor on a storage, freed when the last one dies."""

    def __init__(self, ignore: set[int]) -> None:
        super().__init__()
        self.ignore = ignore
        self.holders: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.live = 0
        self.part = ""
        self.peaks: dict[str, int] = {}

    def hold(self, t: Tensor) -> None:
        key = _key(t)
        if key in self.ignore:
            return
        if key not in self.holders:
            self.holders[key] = 0
            self.sizes[key] = t.untyped_storage().nbytes()
            self.live += self.sizes[key]
        self.holders[key] += 1
        weakref.finalize(t, self._release, key)
        self.enter(self.part)

    def enter(self, part: str) -> None:
        self.part = part
        self.peaks[part] = max(self.peaks.get(part, 0), self.live)

    def _release(self, key: int) -> None:
        self.holders[key] -= 1
        if not self.holders[key]:
            del self.holders[key]
            self.live -= self.sizes.pop(key)

    def created(self, out: object) -> None:
        for t in tree_leaves(out):
            if isinstance(t, Tensor):
                self.hold(t)


@contextmanager
def _entering(parts: Iterable[Part], enter: Any) -> Iterator[None]:
    """Call ``enter(part_name)`` before each part's modules run."""
    with ExitStack() as stack:
        for name, modules in parts:
            for m in modules:
                handle = m.register_forward_pre_hook(lambda _m, _a, name=name: enter(name))
                stack.callback(handle.remove)
        yield


def _weights(modules: tuple[nn.Module, ...]) -> tuple[int, int]:
    full = half = 0
    for m in modules:
        for t in (*m.parameters(), *m.buffers()):
            full += t.numel() * t.element_size()
            half += t.numel() * (HALF_BYTES if t.is_floating_point() else t.element_size())
    return full, half


def measure_memory(model: nn.Module, parts: list[Part], input_shape: tuple[int, ...],
                   dtype: torch.dtype = torch.float32) -> MemoryProfile:
    """Run ``model`` twice on a meta input of ``(1, *input_shape)`` and attribute memory to ``parts``."""
    with forwards():
        return _measure(model, parts, input_shape, dtype)


def _measure(model: nn.Module, parts: list[Part], input_shape: tuple[int, ...], dtype: torch.dtype) -> MemoryProfile:
    state = meta_state(model)
    ignore = {_key(t) for t in state.values()}
    fixed_n = fixed_batch(model)  # a model file with a static batch runs at that batch; its bytes are divided
    x = torch.empty((fixed_n or 1, *input_shape), device="meta", dtype=dtype)

    live = _LiveTensors(ignore)
    with eval_mode(model), torch.no_grad(), _entering(parts, live.enter), live:
        live.hold(x)
        live.enter(parts[0][0])
        torch.func.functional_call(model, state, (x,), strict=False)
    del x

    part = [parts[0][0]]
    saved: dict[int, tuple[str, int, bool]] = {}  # storage -> (part, bytes, scales with the batch)

    def pack(t: Tensor) -> Tensor:
        key = _key(t)
        if key not in ignore and key not in saved:
            saved[key] = (part[0], t.untyped_storage().nbytes(), t.dim() >= 2)
        return t

    def enter(name: str) -> None:
        part[0] = name

    # One sample, or two where a train-mode BatchNorm meets a 1×1 map (at a small input it has one value per
    # channel and refuses a batch of one): the scaling bytes then halved.
    for batch in ((fixed_n,) if fixed_n else (1, 2)):
        saved.clear()
        x = torch.empty((batch, *input_shape), device="meta", dtype=dtype)
        try:
            with training_flags(model, True), torch.enable_grad(), _entering(parts, enter), \
                    torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), MetaOps():
                torch.func.functional_call(model, state, (x,), strict=False)
            break
        except ValueError as exc:
            if batch > 1 or "more than 1 value per channel" not in str(exc):
                raise

    records = []
    for name, modules in parts:
        full, half = _weights(modules)
        per_sample = sum(b for p, b, scales in saved.values() if p == name and scales) // batch
        fixed = sum(b for p, b, scales in saved.values() if p == name and not scales)
        records.append(PartMemory(name, full, half, live.peaks.get(name, 0) // (fixed_n or 1), per_sample, fixed))
    return MemoryProfile(tuple(records))


__all__ = ["MemoryProfile", "PartMemory", "measure_memory", "totals"]
