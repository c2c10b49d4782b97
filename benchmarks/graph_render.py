"""Graph rendering, ResNet-152 at ``blocks`` level, against torchview in the same run.

- full: from a built model, ``trace`` + graph + SVG bytes, vs torchview ``draw_graph(depth=3)`` + ``pipe(svg)``
  (target: ours <= 1/3 of torchview);
- from an existing trace to SVG bytes (target <= 0.1 s);
- repeated for the same config, through the app's cache (target <= 0.05 s).
"""
from __future__ import annotations

import time

import torch
from torchview import draw_graph

from explorer import trace
from explorer.graph.export import rendered
from explorer.graph.dot import to_dot
from explorer.graph.levels import build_graph
from explorer.graph.render import render
from resnet import build, get_preset

from .common import median_times


def run(repeats: int = 5, name: str = "resnet152") -> list[dict]:
    torch.manual_seed(0)
    model = build(get_preset(name)).eval()
    x = torch.randn(1, 3, 224, 224)
    existing = trace(model, x)

    def bare() -> None:
        with torch.no_grad():
            model(x)

    def ours_full() -> bytes:
        return render(to_dot(build_graph(trace(model, x), "blocks")), "svg")

    def torchview_full() -> bytes:
        return draw_graph(model, input_size=(1, 3, 224, 224), depth=3, device="cpu").visual_graph.pipe(format="svg")

    times = median_times({
        "bare forward": bare,
        "ours: trace+graph+svg": ours_full,
        "torchview: draw_graph+svg": torchview_full,
        "ours: trace->svg": lambda: render(to_dot(build_graph(existing, "blocks")), "svg"),
    }, repeats=repeats)
    rendered(get_preset(name), 224, "blocks")  # fill the cache once, then time hits
    start = time.perf_counter()
    for _ in range(20):
        rendered(get_preset(name), 224, "blocks")
    cached = (time.perf_counter() - start) / 20
    return [{
        "benchmark": "graph render", "model": name, "level": "blocks",
        **{f"{k} (s)": round(v, 4) for k, v in times.items()},
        "cached repeat (s)": round(cached, 6),
        "ours / torchview": round(times["ours: trace+graph+svg"] / times["torchview: draw_graph+svg"], 3),
        "ours full / bare forward": round(times["ours: trace+graph+svg"] / times["bare forward"], 3),
        "target": "ours/torchview <= 0.333; trace->svg <= 0.1 s; cached <= 0.05 s",
    }]
