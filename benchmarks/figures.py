"""Figures for papers, ResNet-152: every format of the paper figure from an existing trace, side by side with
a bare forward pass and the Graphviz graph of the same model (blocks level, SVG) in the same run.

Targets: each format <= 0.3 s from an existing trace (PDF/PNG through their renderer, TikZ not compiled);
a cached repeat through ``export_bytes`` <= 0.05 s.
"""
from __future__ import annotations

import time

import torch

from explorer.figures import figure
from explorer.graph.export import _figure, export_bytes
from explorer.graph.dot import to_dot
from explorer.graph.levels import build_graph
from explorer.graph.render import render
from explorer.tracing.cache import structure_trace
from resnet import build, get_preset

from .common import median_times

FORMATS = ("svg", "pdf", "png", "tex", "drawio", "mermaid", "graphml")


def run(repeats: int = 5, name: str = "resnet152") -> list[dict]:
    torch.manual_seed(0)
    config = get_preset(name)
    model = build(config).eval()
    x = torch.randn(1, 3, 224, 224)
    t = structure_trace(config, 224)

    def bare() -> None:
        with torch.no_grad():
            model(x)

    rows = []
    for level in ("stages", "blocks"):
        fns = {"bare forward": bare, "graphviz blocks svg": lambda: render(to_dot(build_graph(t, "blocks")), "svg")}
        fns.update({fmt: (lambda fmt=fmt: figure(t, fmt, "paper", level, size="page")) for fmt in FORMATS})
        times = median_times(fns, repeats=repeats)
        _figure.cache_clear()
        for fmt in FORMATS:
            export_bytes(config, fmt, level=level, style="paper", size="page")
        start = time.perf_counter()
        for _ in range(20):
            for fmt in FORMATS:
                export_bytes(config, fmt, level=level, style="paper", size="page")
        cached = (time.perf_counter() - start) / (20 * len(FORMATS))
        rows.append({
            "benchmark": "paper figure", "model": name, "level": level,
            **{f"{k} (s)": round(v, 4) for k, v in times.items()},
            "slowest format (s)": round(max(times[f] for f in FORMATS), 4),
            "slowest / bare forward": round(max(times[f] for f in FORMATS) / times["bare forward"], 3),
            "svg / graphviz svg": round(times["svg"] / times["graphviz blocks svg"], 3),
            "cached repeat (s)": round(cached, 6),
            "target": "each format <= 0.3 s from a trace; cached <= 0.05 s",
        })
    return rows
