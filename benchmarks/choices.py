"""The figures behind design choices that comments in the code refer to, measured side by side:

- plotly template: a figure with "plotly_white" vs the explorer's cut-down template (explorer/theme.py);
- PNG compression: a feature-map grid written at zlib level 1 (features/views.PNG_LEVEL) vs PIL's default 6;
- block-output reductions: per-channel sums + a dot product + a sign sum (features/capture._reduce) vs
  aminmax + count_nonzero, on a ResNet-50 layer1 output;
- cyclic GC during a trace: ``explorer.trace`` with the collector enabled, disabled (as the tracer once did,
  process-wide, which is unsafe in a threaded server), and enabled with the heap frozen (``gc.freeze()``, what
  app.py does once the UI is built), while a server-sized heap of Python objects is alive.
"""
from __future__ import annotations

import gc
import io

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from explorer import trace
from explorer.features.capture import _reduce
from explorer.features.views import colorize
from explorer.theme import TEMPLATE
from resnet import build, get_preset

from .common import median_times


def _figure(template) -> None:
    go.Figure(go.Scatter(x=list(range(16)), y=list(range(16))), dict(template=template, height=300)).to_json()


def _png(image: Image.Image, level: int) -> None:
    image.save(io.BytesIO(), format="png", compress_level=level)


def _old_reduce(y: torch.Tensor) -> None:
    flat = y[0].reshape(y.shape[1], -1)
    torch.aminmax(flat, dim=1)
    torch.count_nonzero(flat)
    torch.linalg.vector_norm(flat)


def run(repeats: int = 7) -> list[dict]:
    rng = np.random.default_rng(0)
    smooth = np.add.outer(np.sin(np.arange(404) / 9), np.cos(np.arange(404) / 7)) + rng.normal(0, 0.05, (404, 404))
    grid = Image.fromarray(colorize(smooth))  # like a channel grid: smooth maps through the colour map
    y = torch.relu(torch.randn(1, 256, 56, 56, generator=torch.Generator().manual_seed(0)))
    model = build(get_preset("resnet50")).eval()
    x = torch.randn(1, 3, 224, 224)
    heap = [{"i": i, "t": (i, str(i))} for i in range(2_000_000)]  # what a long-running server holds

    def traced_between(enter, leave):
        def run() -> None:
            enter()
            try:
                trace(model, x)
            finally:
                leave()
        return run

    trace_without_gc, trace_frozen_heap = traced_between(gc.disable, gc.enable), traced_between(gc.freeze, gc.unfreeze)

    t = median_times({
        "plotly_white figure": lambda: _figure("plotly_white"), "light template figure": lambda: _figure(TEMPLATE),
        "PNG level 6": lambda: _png(grid, 6), "PNG level 1": lambda: _png(grid, 1),
        "aminmax + count_nonzero + norm": lambda: _old_reduce(y), "sum + dot + sign": lambda: _reduce(y),
        "trace, GC on": lambda: trace(model, x), "trace, GC off": trace_without_gc,
        "trace, GC on, heap frozen": trace_frozen_heap,
    }, repeats=repeats)
    del heap
    ms = {k: round(v * 1000, 2) for k, v in t.items()}
    return [{
        "benchmark": "design choices", **{f"{k} (ms)": v for k, v in ms.items()},
        "template: white / light": round(t["plotly_white figure"] / t["light template figure"], 2),
        "PNG: level 6 / level 1": round(t["PNG level 6"] / t["PNG level 1"], 2),
        "reductions: old / ours": round(t["aminmax + count_nonzero + norm"] / t["sum + dot + sign"], 2),
        "trace: GC on / off": round(t["trace, GC on"] / t["trace, GC off"], 3),
        "trace: GC on, heap frozen / off": round(t["trace, GC on, heap frozen"] / t["trace, GC off"], 3),
    }]
