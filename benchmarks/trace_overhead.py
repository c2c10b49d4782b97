"""Trace overhead: ``trace()`` time / bare forward time on the same model and input (target <= 1.10x).

torchinfo's ``summary`` on the same model is timed in the same run as a reference point.
"""
from __future__ import annotations

import torch
import torchinfo

from explorer import trace
from resnet import build, get_preset

from .common import median_times


def run(models: tuple[str, ...] = ("resnet50", "resnet152"), repeats: int = 7) -> list[dict]:
    rows = []
    for name in models:
        torch.manual_seed(0)
        model = build(get_preset(name)).eval()
        x = torch.randn(1, 3, 224, 224)

        def bare() -> None:
            with torch.no_grad():
                model(x)

        times = median_times({
            "bare forward": bare,
            "explorer.trace": lambda: trace(model, x),
            "torchinfo.summary": lambda: torchinfo.summary(model, input_data=x, verbose=0),
        }, repeats=repeats)
        base = times["bare forward"]
        rows.append({
            "benchmark": "trace overhead", "model": name,
            **{f"{k} (s)": round(v, 4) for k, v in times.items()},
            "trace / bare": round(times["explorer.trace"] / base, 3),
            "torchinfo / bare": round(times["torchinfo.summary"] / base, 3),
            "target": "trace / bare <= 1.10",
        })
    return rows
