"""Lesion studies (#24): every block of a model lesioned on a batch (``lesion_batch``: one taped full forward,
then a replay per block from its addition) against (N + 1) bare forward passes, the cost of lesioning each
block from scratch (target <= 0.6×); the first batch also checks each cut against a replay from op 0."""
from __future__ import annotations

import statistics
import time

import torch

from explorer.lesion import lesion_batch
from explorer.lesion.plan import lesion_plan_for
from resnet import build, parse_spec

BATCH, SIZE = 8, 160


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(repeats: int = 3) -> list[dict]:
    rows = []
    for spec in ("resnet18", "resnet50"):
        torch.manual_seed(0)
        model = build(parse_spec(spec)).eval()
        x, targets = torch.randn(BATCH, 3, SIZE, SIZE), torch.zeros(BATCH, dtype=torch.int64)
        with torch.no_grad():
            model(x)
            bare = _median(lambda: model(x), repeats)
        start = time.perf_counter()
        lesion_batch(model, x, targets, [])  # plans, and checks every cut once
        first = time.perf_counter() - start
        n = len(lesion_plan_for(model, x).blocks)
        steady = _median(lambda: lesion_batch(model, x, targets, []), repeats)
        rows.append({"benchmark": "lesion every block, one batch", "model": spec, "blocks": n,
                     "batch": f"{BATCH}×{SIZE}²", "bare forward (s)": round(bare, 4),
                     "(N + 1) forwards (s)": round((n + 1) * bare, 3), "lesion_batch (s)": round(steady, 3),
                     "ratio": round(steady / ((n + 1) * bare), 3), "target": "<= 0.6",
                     "first batch, cuts checked (s)": round(first, 3)})
    return rows
