"""A live ``nn.Module`` as a model every view takes: ``explorer.show(model)`` registers it here and the app names
it by a spec (``module:MyResNet@3f2a9c1d``), as it names an opened file (``sources.FileModel``).

The module is used in place, never pickled or copied: the views run a *shadow*, a second tree of module
objects over the same parameter and buffer tensors. Its own train/eval flags and hook dictionaries are what
the views set (``eval()``, the capture's hooks), so the user's module keeps its flags and hooks whatever runs;
its tensors are the user's, so what runs is exactly their weights. The hooks the user registered do not run in
the views' passes: they are the user's (a hook that collects activations would fill with ours, and a meta
trace would hand it meta tensors). Structure traces get a *meta* shadow (meta
tensors in place of the weights), so no trace ever swaps a tensor under a running pass. The views never move
it: it runs on the device its parameters are on.
"""
from __future__ import annotations

import copy
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import torch
    from torch import nn

    from resnet import Preprocess

PREFIX = "module:"


@dataclass
class _Entry:
    module: nn.Module
    preprocess: Preprocess | None
    classes: tuple[str, ...] | None
    shadow: nn.Module | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_LIVE: dict[str, _Entry] = {}
_LOCK = threading.Lock()
_COUNT = itertools.count(1)


@dataclass(frozen=True)
class LiveModel:
    """A module registered by ``register``: named by its class (or the name given) and a token of this process."""

    name: str
    token: str
    kind: str = "module"

    @property
    def spec(self) -> str:
        return f"{PREFIX}{self.name}@{self.token}"

    @property
    def slug(self) -> str:
        return f"module_{''.join(c if c.isalnum() else '_' for c in self.name)}_{self.token}"

    @property
    def title(self) -> str:
        return f"your {self.name} module"

    def _entry(self) -> _Entry:
        with _LOCK:
            entry = _LIVE.get(self.token)
        if entry is None:
            raise ValueError(f"the module {self.name} is no longer shown here (its show() was closed)")
        return entry

    @property
    def preprocess(self) -> Preprocess | None:
        return self._entry().preprocess

    @property
    def classes(self) -> tuple[str, ...] | None:
        return self._entry().classes

    @property
    def device(self) -> torch.device:
        """Where the module's tensors are: its views run there."""
        import torch

        entry = self._entry()
        first = next(itertools.chain(entry.module.parameters(), entry.module.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    def build(self, device: str | torch.device = "cpu") -> nn.Module:
        """The shadow the views run (in eval mode, on the module's own device), or for ``"meta"`` a fresh shadow
        over meta tensors (structure only)."""
        entry = self._entry()
        if str(device) == "meta":
            return meta_shadow(entry.module)
        with entry.lock:
            if entry.shadow is None:
                entry.shadow = shadow(entry.module).eval()
            return entry.shadow


def register(module: nn.Module, name: str | None = None, preprocess: Preprocess | None = None,
             classes: Sequence[str] | None = None) -> LiveModel:
    """Name ``module`` for the views (kept until ``unregister``)."""
    label = "".join(c for c in (name or type(module).__name__) if c.isalnum() or c in "_-.")[:60] or "Module"
    token = f"{next(_COUNT):x}{secrets.token_hex(4)}"
    with _LOCK:
        _LIVE[token] = _Entry(module, preprocess, tuple(classes) if classes is not None else None)
    return LiveModel(label, token)


def unregister(model: LiveModel) -> None:
    with _LOCK:
        _LIVE.pop(model.token, None)


def registered(spec: str) -> LiveModel:
    """The live module a spec names; ValueError when none is (any more)."""
    name, _, token = spec[len(PREFIX):].rpartition("@")
    with _LOCK:
        found = token in _LIVE
    if not found:
        raise ValueError(f"no live module {spec[:80]!r} is shown here; call explorer.show(model) again")
    return LiveModel(name, token)


def shadow(module: nn.Module, tensors: dict[int, torch.Tensor] | None = None) -> nn.Module:
    """A second tree of module objects over ``module``'s tensors (or the ``tensors`` given, by the id of the
    tensor they replace): own flags, empty hook dictionaries, the same parameters and buffers. A module reached
    twice is shadowed once, so shared submodules stay shared."""
    seen: dict[int, nn.Module] = {}

    def clone(m: nn.Module) -> nn.Module:
        if id(m) in seen:
            return seen[id(m)]
        c = copy.copy(m)  # a new __dict__ whose values are m's: the containers are replaced below
        seen[id(m)] = c
        for key, value in vars(m).items():
            if key.startswith("_") and isinstance(value, (dict, set)):  # _parameters, _buffers, hooks, ...
                vars(c)[key] = type(value)() if "hook" in key else copy.copy(value)
        if tensors is not None:
            for store in (c._parameters, c._buffers):
                for key, t in store.items():
                    if t is not None:
                        store[key] = tensors[id(t)]
        for key, child in m._modules.items():
            c._modules[key] = clone(child) if child is not None else None
        return c

    return clone(module)


def meta_shadow(module: nn.Module) -> nn.Module:
    """A shadow whose parameters and buffers are meta tensors of the same shapes: structure, no memory."""
    import torch
    from torch import nn

    metas: dict[int, torch.Tensor] = {}
    for t in itertools.chain(module.parameters(), module.buffers()):
        if id(t) not in metas:
            meta = torch.empty_like(t, device="meta")
            metas[id(t)] = nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else meta
    return shadow(module, metas).eval()


__all__ = ["LiveModel", "PREFIX", "meta_shadow", "register", "registered", "shadow", "unregister"]
