"""Forward hooks registered and removed in one place, so a failing forward never leaves them behind."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

HookFn = Callable[[str, nn.Module, tuple[Any, ...], Any], None]


@contextmanager
def forward_hooks(modules: Iterable[tuple[str, nn.Module]], hook: HookFn) -> Iterator[None]:
    """Call ``hook(name, module, inputs, output)`` after each listed module runs, inside the block only."""
    handles = []
    try:
        for name, module in modules:
            handles.append(module.register_forward_hook(_bind(name, hook)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _bind(name: str, hook: HookFn) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
    def call(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        hook(name, module, inputs, output)

    return call


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every module in eval mode and restore each one's own flag afterwards."""
    # Only the modules still training are touched, and directly: ``model.eval()`` goes through
    # ``Module.__setattr__`` for each of hundreds of modules, which costs more than a block's forward.
    flipped = [m for m in model.modules() if m.training]
    try:
        for m in flipped:
            m.__dict__["training"] = False
        yield model
    finally:
        for m in flipped:
            m.__dict__["training"] = True


@contextmanager
def running_on(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """Eval mode and no_grad on ``device``; the model goes back to its own device and flags afterwards."""

    home = next((p.device for p in model.parameters()), torch.device("cpu"))
    moved = home != device
    # The hooks allocate small Python objects on every block; a cyclic-GC pass triggered mid-forward
    # walks the whole heap (a large one in a server) and costs more than the hooks themselves.
    gc_was_enabled = gc.isenabled()
    try:
        if moved:
            model.to(device)
        gc.disable()
        with eval_mode(model), torch.no_grad():
            yield model
    finally:
        if gc_was_enabled:
            gc.enable()
        if moved:
            model.to(home)
