"""Run the benchmarks: ``python -m benchmarks`` (or ``make bench``). Prints a table and writes JSON."""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from . import (cam, choices, dataset, features, figures, graph_render, lesion, load, memory, redraw, sources,
               startup, structure_speed, trace_overhead, visualize)

SUITES = {"trace": trace_overhead.run, "graph": graph_render.run, "structure": structure_speed.run,
          "features": features.run, "choices": choices.run, "load": load.run, "memory": memory.run, "cam": cam.run, "startup": startup.run,
          "figures": figures.run, "redraw": redraw.run, "sources": sources.run, "dataset": dataset.run, "lesion": lesion.run,
          "visualize": visualize.run}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("suites", nargs="*", help=f"some of: {', '.join(SUITES)} (default: all)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", default="benchmarks/results/latest.json")
    args = p.parse_args()
    unknown = set(args.suites) - set(SUITES)
    if unknown:
        p.error(f"unknown suite(s): {', '.join(sorted(unknown))}; choose from {', '.join(SUITES)}")
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    results = []
    for name in args.suites or list(SUITES):
        for row in SUITES[name](repeats=args.repeats):
            results.append(row)
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"# written to {out}")


if __name__ == "__main__":
    main()
