"""Dataset runs (#23), side by side in one run over the same generated folder, same batch size and workers:

- the local engine's images/s against a bare loop (a DataLoader decoding the same shards, ``model(x)``, no
  statistics) (target >= 0.85×): end to end (the run's model build, plan, files and CSVs included; the bare
  loop's model is built beforehand) and in its steady state (from the first batch done to the last, both);
  rounds alternate, the best of each is kept (this machine's speed drifts between runs);
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
from explorer.dataset.folder import to_batch
from explorer.dataset.local import ShardImages
from explorer.dataset.run import shards
from explorer.limits import DEFAULT_LIMITS
from resnet import Preprocess, build, parse_spec

BATCH, WORKERS = 16, 2
PRE = Preprocess(160, 160)


def _folder(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        cls = root / f"class{i % 4}"
        cls.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((200, 260, 3)) * 255).astype(np.uint8)).save(cls / f"{i:05d}.jpg", quality=90)
    return root


def _bare(folder: Path, model: torch.nn.Module) -> tuple[float, float]:
    """(images/s end to end, images/s from the first batch done to the last)."""
    images = list_images(folder)
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


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(repeats: int = 3, n: int = 192) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = _folder(Path(tmp) / "images", 4 * n)
        torch.manual_seed(0)
        model = build(parse_spec("resnet50")).eval()
        bare, local = [], []
        for _ in range(max(2, repeats // 2)):
            bare.append(_bare(folder, model))
            local.append(_run(folder, Path(tmp) / "local", "local"))
        (b_all, b_steady), (l_all, l_steady) = (tuple(max(r[i] for r in rows) for i in (0, 1)) for rows in (bare, local))
        rows = [{"benchmark": "dataset, local engine", "model": "resnet50", "images": 4 * n, "batch": BATCH,
                 "workers": WORKERS, "bare DataLoader + model(x) (images/s)": round(b_all, 2),
                 "local engine (images/s)": round(l_all, 2), "local / bare": round(l_all / b_all, 3),
                 "steady: bare (images/s)": round(b_steady, 2), "steady: local (images/s)": round(l_steady, 2),
                 "steady: local / bare": round(l_steady / b_steady, 3), "target": ">= 0.85"}]
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
