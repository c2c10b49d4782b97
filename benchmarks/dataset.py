"""Dataset runs (#23), side by side in one run over the same generated folder, same batch size and workers:

- the local engine's images/s against a bare loop (a DataLoader decoding the same shards, ``model(x)``, no
  statistics) (target >= 0.85×): end to end (the run's model build, plan, files and CSVs included; the bare
  loop's model is built beforehand) and in its steady state (from the first batch done to the last, both);
  after one untimed warm-up of each, the two run in turns (bare first, then local first), and the median of
  the rounds' ratios is reported (this machine's speed drifts by ±15 % between runs: a best-of-each compares
  different moments);
- per batch, at the same moment: each batch of one DataLoader pass through ``model(x)`` and through what the
  local engine does with it (``reduce_shard``, its ``ShardResult`` and the merge into the running total), in
  alternating order, the median of the per-batch ratios (what the engine's work costs, free of the drift);
- the ray engine on this machine against the local one (a report: Ray's start-up and scheduling are the cost);
- the run's RSS after N and after 4N images (target: growth under 10 %: the partials are O(blocks × channels × k)).
"""
from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from explorer.dataset import DatasetJob, list_images, run_dataset
from explorer.dataset.tally import ShardResult
from explorer.dataset.folder import to_batch
from explorer.dataset.local import ShardImages, reduction_threads
from explorer.dataset.run import block_names
from explorer.dataset.shards import reduce_shard, shards
from explorer.limits import DEFAULT_LIMITS
from resnet import Preprocess, build, parse_spec

from .common import cpu_ticks, stolen

BATCH, WORKERS = 16, 2
PRE = Preprocess(160, 160)


def _folder(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        cls = root / f"class{i % 4}"
        cls.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((200, 260, 3)) * 255).astype(np.uint8)).save(cls / f"{i:05d}.jpg", quality=90)
    return root


def _bare(folder: Path, model: torch.nn.Module, limit: int | None = None) -> tuple[float, float]:
    """(images/s end to end, images/s from the first batch done to the last)."""
    images = list_images(folder, limit)
    loader = torch.utils.data.DataLoader(ShardImages(images, PRE, shards(images, BATCH), DEFAULT_LIMITS), batch_size=None,
                                         num_workers=WORKERS, collate_fn=lambda item: item)
    marks = []
    start = time.perf_counter()
    with torch.no_grad():
        for _, crops, _, _ in loader:
            model(to_batch(crops, PRE))
            marks.append((time.perf_counter(), len(crops)))
    end = time.perf_counter()
    return len(images.files) / (end - start), sum(n for _, n in marks[1:]) / (marks[-1][0] - marks[0][0])


def _run(folder: Path, out: Path, engine: str, limit: int | None = None) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    job = DatasetJob(parse_spec("resnet50"), folder, out, preprocess=PRE, batch_size=BATCH, workers=WORKERS,
                     engine=engine, limit=limit, top_k=16)
    marks = []
    start = time.perf_counter()
    summary = run_dataset(job, lambda done, _total: marks.append((time.perf_counter(), done)))
    end = time.perf_counter()
    (t0, n0), (t1, n1) = marks[1], marks[-1]  # marks[0]: before the first shard
    return summary["images_used"] / (end - start), (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")


def _per_batch(folder: Path, model: torch.nn.Module, k: int = 16) -> tuple[float, float, float]:
    """(median ms of model(x), median ms of the engine's work on the same batch, median of their ratios)."""
    images = list_images(folder)
    blocks = block_names(model, PRE, BATCH)
    loader = torch.utils.data.DataLoader(ShardImages(images, PRE, shards(images, BATCH), DEFAULT_LIMITS), batch_size=None,
                                         num_workers=WORKERS, collate_fn=lambda item: item)
    bare, engine, total = [], [], ShardResult()
    threads = reduction_threads(WORKERS)

    def work(x: torch.Tensor, used: list[int]) -> ShardResult:
        parts, _ = reduce_shard(model, x, used, blocks, k, None, threads)
        return total.then(ShardResult.of(blocks, parts, len(used), []), k)

    with torch.no_grad():
        for i, (_, crops, used, _) in enumerate(loader):
            x = to_batch(crops, PRE)
            for which in ("bare", "engine") if i % 2 == 0 else ("engine", "bare"):
                start = time.perf_counter()
                if which == "bare":
                    model(x)
                else:
                    total = work(x, used)
                (bare if which == "bare" else engine).append(time.perf_counter() - start)
    b, e = np.array(bare[2:]), np.array(engine[2:])  # (the first batches: plans, the kernels' first calls)
    return float(np.median(b) * 1e3), float(np.median(e) * 1e3), float(np.median(b / e))


def per_batch_rows(folder: Path, model: torch.nn.Module, batches: int) -> list[dict]:
    """The engine's work on a batch against model(x) on it, with Numba's kernels and without (the extra
    ``fast``: torch's reductions and numpy then), side by side."""
    from explorer.dataset import kernels

    rows = []
    for label, fallback in (("with Numba", False), ("without Numba", True)):
        saved = kernels._KERNELS
        if fallback:
            kernels._KERNELS = kernels.Kernels(None, None, kernels.combine_numpy, kernels.merge_top_numpy)
        try:
            b_ms, e_ms, ratio = _per_batch(folder, model)
        finally:
            kernels._KERNELS = saved
        rows.append({"benchmark": f"dataset, per batch at the same moment, {label}", "model(x) (ms)": round(b_ms, 1),
                     "the local engine's work (ms)": round(e_ms, 1), "model(x) / engine": round(ratio, 3),
                     "batches": batches})
    return rows


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(repeats: int = 3, n: int = 192) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = _folder(Path(tmp) / "images", 4 * n)
        torch.manual_seed(0)
        model = build(parse_spec("resnet50")).eval()
        _bare(folder, model, limit=2 * BATCH)  # warm-up, untimed: the first DataLoader, numba's cache read
        _run(folder, Path(tmp) / "warm", "local", limit=2 * BATCH)
        bare, local, steal = [], [], []
        for i in range(max(3, repeats)):  # the two side by side, in turns, each pair's ratio kept
            ticks = cpu_ticks()
            for which in ("bare", "local") if i % 2 == 0 else ("local", "bare"):
                if which == "bare":
                    bare.append(_bare(folder, model))
                else:
                    local.append(_run(folder, Path(tmp) / "local", "local"))
            steal.append(stolen(ticks, cpu_ticks()))
        ratios = [[l_[j] / b_[j] for l_, b_ in zip(local, bare)] for j in (0, 1)]
        (b_all, b_steady), (l_all, l_steady) = ([float(np.median([r[j] for r in rows])) for j in (0, 1)]
                                               for rows in (bare, local))
        rows = [{"benchmark": "dataset, local engine", "model": "resnet50", "images": 4 * n, "batch": BATCH,
                 "workers": WORKERS, "rounds": len(bare), "bare DataLoader + model(x) (images/s)": round(b_all, 2),
                 "local engine (images/s)": round(l_all, 2), "local / bare": round(float(np.median(ratios[0])), 3),
                 "steady: bare (images/s)": round(b_steady, 2), "steady: local (images/s)": round(l_steady, 2),
                 "steady: local / bare": round(float(np.median(ratios[1])), 3),
                 "ratios per round": " ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(*ratios)),
                 "CPU stolen by the host per round": " ".join(f"{v:.0%}" for v in steal), "target": ">= 0.85"}]
        rows += per_batch_rows(folder, model, 4 * n // BATCH - 2)
        _run(folder, Path(tmp) / "n", "local", limit=n)
        after_n = _rss_mib()
        _run(folder, Path(tmp) / "4n", "local", limit=4 * n)
        after_4n = _rss_mib()
        rows.append({"benchmark": "dataset, memory", "peak RSS after N images (MiB)": round(after_n),
                     "after 4N (MiB)": round(after_4n), "growth": f"{(after_4n - after_n) / after_n:.1%}",
                     "N": n, "target": "< 10 %"})
        try:
            import ray  # noqa: F401

            ray_rate = _run(folder, Path(tmp) / "ray", "ray")[0]
            rows.append({"benchmark": "dataset, ray engine (this machine)", "ray (images/s)": round(ray_rate, 2),
                         "local (images/s)": round(l_all, 2), "ray / local": round(ray_rate / l_all, 3)})
        except ImportError:
            pass
    return rows
