"""Pictures kept by what makes them: the model's weights (a digest of every tensor), its normalisation, the block,
the channel and the settings; so a channel shown again, or by another tab, is not optimised again."""
from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from .optimise import Settings, Visualization

_DIGESTS: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, str]] = weakref.WeakKeyDictionary()


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of the model's state (names, shapes, dtypes, bytes), recomputed when a tensor's version moves."""
    state = model.state_dict()
    versions = tuple(t._version for t in state.values())
    kept = _DIGESTS.get(model)
    if kept is not None and kept[0] == versions:
        return kept[1]
    h = hashlib.sha256()
    for name, t in state.items():
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        if not t.is_meta:
            h.update(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    _DIGESTS[model] = (versions, h.hexdigest())
    return _DIGESTS[model][1]


class Kept:
    """The last ``size`` pictures, by key (``key``)."""

    def __init__(self, size: int = 256) -> None:
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    @staticmethod
    def key(model: nn.Module, norm: tuple[Sequence[float], Sequence[float]], block: str, channel: int,
            settings: Settings) -> tuple:
        return weights_digest(model), tuple(map(tuple, norm)), block, channel, settings.key()

    def get(self, key: tuple) -> list[Visualization] | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key: tuple, pictures: list[Visualization]) -> None:
        with self._lock:
            self._items[key] = pictures
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


__all__ = ["Kept", "weights_digest"]
