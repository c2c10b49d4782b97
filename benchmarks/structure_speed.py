"""Structure views on a toggle: ResNet-152 config change -> every structure view ready (first time and cached),
and switching between warmed presets. Baselines in the same run: building ResNet-152 with its weight
initialisation, and a bare forward pass.

Targets: first time <= 0.5 s, cached <= 0.05 s, preset switch <= 0.05 s.
"""
from __future__ import annotations

import time

import torch

from explorer.tracing.cache import _structure_trace
from explorer.structure.views import _structure_views, structure_views, warm_presets
from resnet import PRESETS, build, get_preset

from .common import cold_median, median_times


def _clear() -> None:
    _structure_views.cache_clear()
    _structure_trace.cache_clear()


def run(repeats: int = 5) -> list[dict]:
    cfg = get_preset("resnet152")
    structure_views(get_preset("resnet18"))  # import-time costs (plotly validators) out of the way
    model = build(cfg).eval()
    x = torch.randn(1, 3, 224, 224)

    def bare() -> None:
        with torch.no_grad():
            model(x)

    base = median_times({"build with init": lambda: build(cfg), "bare forward": bare}, repeats=repeats)
    first = cold_median(lambda: structure_views(cfg), _clear, repeats)
    start = time.perf_counter()
    for _ in range(100):
        structure_views(cfg)
    cached = (time.perf_counter() - start) / 100
    warm_presets().join()
    switches = []
    names = list(PRESETS)
    for i in range(40):
        start = time.perf_counter()
        structure_views(PRESETS[names[i % len(names)]].config)
        switches.append(time.perf_counter() - start)
    return [{
        "benchmark": "structure views", "model": "resnet152",
        "build with init (s)": round(base["build with init"], 4), "bare forward (s)": round(base["bare forward"], 4),
        "first time (s)": round(first, 4), "cached (s)": round(cached, 6),
        "preset switch, max (s)": round(max(switches), 6),
        "first / bare forward": round(first / base["bare forward"], 3),
        "first / (build + forward)": round(first / (base["build with init"] + base["bare forward"]), 3),
        "target": "first <= 0.5 s; cached <= 0.05 s; switch <= 0.05 s",
    }]
