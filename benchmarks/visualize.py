"""Feature visualization (#38) on the CPU, side by side with its floor: seconds per channel against ``steps`` ×
(one forward + backward of the whole model at the same size and batch: pictures × crops), for ResNet-18 and
ResNet-50, in batches of 1, 8 and 32 channels. The visualization runs the forward only as far as the block, so a
ratio under 1 is possible (for an early block); at the last block, the ratio is the optimisation's own overhead
(parameterisation, crops, the Adam step). Target: <= 1.3x the floor at the last block.
"""
from __future__ import annotations

import time

import torch

from explorer.visualize import Settings, visualize
from resnet import build, get_preset

STEPS, SIZE = 4, 128


def _floor(model: torch.nn.Module, n: int, steps: int) -> float:
    x = torch.randn(n, 3, SIZE, SIZE, requires_grad=True)
    start = time.perf_counter()
    for _ in range(steps):
        model(x).mean().backward()
    return time.perf_counter() - start


def run(repeats: int = 7) -> list[dict]:
    rows = []
    for name in ("resnet18", "resnet50"):
        torch.manual_seed(0)
        model = build(get_preset(name)).eval()
        s = Settings(method="maco", steps=STEPS, size=SIZE)
        last = [n for n, _ in model.named_blocks()][-1] if hasattr(model, "named_blocks") else "layer4.1"
        for batch in (1, 8, 32):
            _floor(model, batch * s.robustness.crops, 1)  # warm-up
            floor = _floor(model, batch * s.robustness.crops, STEPS)
            times = {}
            for block in ("layer3.0", last):
                visualize(model, block, list(range(batch)), Settings(steps=1, size=SIZE), batch=batch)  # plans made
                start = time.perf_counter()
                visualize(model, block, list(range(batch)), s, batch=batch)
                times[block] = time.perf_counter() - start
            rows.append({"benchmark": "feature visualization", "model": name, "channels per batch": batch,
                         "steps": STEPS, "size": SIZE, "crops": s.robustness.crops,
                         "floor per channel (s)": round(floor / batch, 3),
                         **{f"{b} per channel (s)": round(t / batch, 3) for b, t in times.items()},
                         **{f"{b} / floor": round(t / floor, 2) for b, t in times.items()},
                         "target": "last block <= 1.3x floor"})
    return rows
