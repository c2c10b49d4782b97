"""Trace overhead: ``trace()`` time / bare forward time on the same model and input (target <= 1.10x), for our
ResNet-50 and ResNet-152, with timm installed timm's resnet50d (deep stem, avg-pool shortcuts), and the CIFAR
family's ResNet-56 and ResNet-1202 at 32 px (many small blocks: the per-op cost of recording shows most).

A model's first trace records its forward as dataflow and recognises its blocks (``first trace / bare``); a
repeated trace of the unchanged model (same modules, shapes and ops) runs the forward lightly and returns the
same records (``trace / bare``).

torchinfo's ``summary`` on the same model is timed in the same run as a reference point.
"""
from __future__ import annotations

import torch
import torchinfo

from explorer import trace
from explorer.tracing import tracer
from explorer.models import input_size_of, parse_model, real_model, timm_architectures

from .common import median_times


def run(models: tuple[str, ...] = ("resnet50", "resnet152", "timm:resnet50d", "resnet56", "resnet1202"),
        repeats: int = 7) -> list[dict]:
    rows = []
    for name in models:
        if name.startswith("timm:") and not timm_architectures():
            continue
        torch.manual_seed(0)
        spec = parse_model(name)
        model = real_model(spec).eval()
        size = input_size_of(spec)  # the CIFAR family at its 32 px
        x = torch.randn(1, 3, size, size)

        def bare() -> None:
            with torch.no_grad():
                model(x)

        times = median_times({
            "bare forward": bare,
            "explorer.trace": lambda: trace(model, x),
            "explorer.trace, first": lambda: (tracer._TRACES.clear(), trace(model, x)),
            "torchinfo.summary": lambda: torchinfo.summary(model, input_data=x, verbose=0),
        }, repeats=repeats)
        base = times["bare forward"]
        rows.append({
            "benchmark": "trace overhead", "model": name, "input (px)": size,
            **{f"{k} (s)": round(v, 4) for k, v in times.items()},
            "trace / bare": round(times["explorer.trace"] / base, 3),
            "first trace / bare": round(times["explorer.trace, first"] / base, 3),
            "torchinfo / bare": round(times["torchinfo.summary"] / base, 3),
            "target": "trace / bare <= 1.10",
        })
    return rows
