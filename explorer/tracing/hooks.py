"""Forward hooks registered and removed in one place, so a failing forward never leaves them behind."""
from __future__ import annotations

import contextlib
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

# hook(name, module, inputs, output): ``name`` is whatever the caller registered the hook under.
HookFn = Callable[[str, nn.Module, tuple[Any, ...], Any], None]


@contextmanager
def forward_hooks(hooks: Iterable[tuple[str, nn.Module, HookFn]]) -> Iterator[None]:
    """For each ``(name, module, fn)``, call ``fn(name, module, inputs, output)`` after the module runs, inside
    the block only."""
    handles = []
    try:
        for name, module, fn in hooks:
            handles.append(module.register_forward_hook(_bind(name, fn)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _bind(name: str, fn: HookFn) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
    def call(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        fn(name, module, inputs, output)

    return call


@contextmanager
def training_flags(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    """Every module in train (``training``) or eval mode, each one's own flag restored afterwards."""
    # Only the modules in the other mode are touched, and directly: ``model.eval()`` goes through
    # ``Module.__setattr__`` for each of hundreds of modules.
    flipped = [m for m in model.modules() if m.training != training]
    try:
        for m in flipped:
            m.__dict__["training"] = training
        yield model
    finally:
        for m in flipped:
            m.__dict__["training"] = not training


def eval_mode(model: nn.Module) -> contextlib.AbstractContextManager[nn.Module]:
    """Every module in eval mode, each one's own flag restored afterwards."""
    return training_flags(model, False)


@contextmanager
def running_on(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """Eval mode and no_grad on ``device``; the model goes back to its own device and flags afterwards."""
    home = next((p.device for p in model.parameters()), torch.device("cpu"))
    moved = home != device
    try:
        if moved:
            model.to(device)
        with eval_mode(model), torch.no_grad():
            yield model
    finally:
        if moved:
            model.to(home)
