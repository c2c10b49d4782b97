"""Receptive fields measured by gradient, for the tests that check the analytic ones (any ResNet-family model)."""
from __future__ import annotations

import torch
from torch import nn


def gradient_rf(model: nn.Module, upto: str, height: int, width: int = 48) -> int:
    """Height of the input region with non-zero gradient for the centre unit of ``upto``'s output.

    Positive constant weights and identity BN keep every ReLU open; an input that grows away from the
    centre makes every max-pool pick the outermost position, so the extent is the theoretical one;
    float64 keeps the tiny far-edge gradients from underflowing. (The model is changed: pass a fresh one.)
    """
    model = model.double().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0 / m.weight[0].numel())
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
    captured = {}
    handle = dict(model.named_modules())[upto].register_forward_hook(lambda m, i, o: captured.setdefault("y", o))
    rows = torch.arange(height, dtype=torch.float64)
    x = (1.0 + (rows - height / 2).abs() / height).view(1, 1, height, 1).expand(1, 3, height, width).clone()
    x.requires_grad_(True)
    try:
        model(x)
    finally:
        handle.remove()
    y = captured["y"]
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    nonzero = (x.grad[0].abs().sum(dim=(0, 2)) > 0).nonzero().flatten()
    return int(nonzero.max() - nonzero.min() + 1)
