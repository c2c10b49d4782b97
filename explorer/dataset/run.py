"""A dataset run: the images of a folder through a model in shards of a batch each, every shard's partial
statistics merged in shard order as it is done, the tally saved under ``--out`` as it goes (``tally``: the
same command after an interruption continues where it stopped), and written as ``summary.json``,
``channels.csv`` and ``top.csv`` (and the two as Parquet where pyarrow is installed).

The last link of the chain job (``job``) ← shard work (``shards``) ← engines (``local``, ``ray_engine``) ← run:
shards are fixed by the sorted file list and the batch size, and their partials merge in order, so an engine
(``local``: a DataLoader; ``ray``: Ray Data) changes where the work runs, never the numbers.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from importlib import import_module
from types import ModuleType

import numpy as np

from resnet import Preprocess

from ..lesion.partial import LesionPartial
from ..lesion.study import DRAW_COLUMNS, LESION_COLUMNS, Design, design, draw_rows, lesion_rows
from ..models import Model, own_classes
from .folder import DatasetError, ImageSet, list_images
from .job import ENGINES, DatasetJob, Progress, check_job
from .shards import shards
from .stats import CHANNEL_COLUMNS, TOP_COLUMNS, channel_columns, top_columns
from ..files import atomic, claim as claim_folder
from .tally import ShardResult, Tally

PARTIALS_FORMAT = 3  # what partials/ holds (3: one merged tally; 2: a file per shard); another is not resumed


# ---- the record of a run, and resuming it -----------------------------------------------------------------------

def manifest(job: DatasetJob, images: ImageSet, pre: Preprocess, weights: str, blocks: list[str]) -> dict:
    """What makes a run's partials the partials of this run: model, weights, preprocessing, images, shards."""
    listing = hashlib.sha256("\n".join(images.files).encode()).hexdigest()[:16]
    return json.loads(json.dumps({"format": PARTIALS_FORMAT, "model": job.model.spec, "weights": weights, "preprocessing": asdict(pre), "top_k": job.top_k,
            "batch_size": job.batch_size, "images": len(images.files), "image_list": listing, "blocks": blocks,
            **({"lesion": asdict(job.lesion)} if job.lesion else {}),
            **({"class_names": hashlib.sha256("\n".join(job.class_names).encode()).hexdigest()[:16]}
               if job.lesion and job.class_names else {})}))
    # (through JSON: as a manifest read back compares)


def claim(out: Path, wanted: dict) -> None:
    """Take ``out`` for this run; an interrupted run of the same job is continued, another job's refused."""
    claim_folder(out, wanted, "partials", DatasetError)


# ---- the run ---------------------------------------------------------------------------------------------------

# The engines, each a module of the chain's third link with ``planning_device(job)`` and ``run(...)``: imported
# when a run takes it (Ray is optional).
ENGINE_MODULES = {"local": ".local", "ray": ".ray_engine"}


def engine(name: str) -> ModuleType:
    return import_module(ENGINE_MODULES[name], __package__)


def run_dataset(job: DatasetJob, progress: Progress | None = None) -> dict:
    """Run ``job`` (continuing an interrupted run of it) and write its files; returns the summary."""
    from ..features.store import FeatureStore
    from ..tracing.static import fixed_batch

    check_job(job)
    if job.lesion and job.class_names is None:  # scored against the model's own names (CIFAR-10's, a folder's)
        job = replace(job, class_names=own_classes(job.model))
    start = time.perf_counter()
    runner = engine(job.engine)
    device = runner.planning_device(job)
    images = list_images(job.folder, job.limit)
    if job.preprocess is not None:  # (measured before the model is built, where the crop is known)
        job = fit_batch(job, job.preprocess.crop_size)
    crop = job.preprocess.crop_size if job.preprocess else None
    loaded = FeatureStore(job.limits).model(job.model, job.weights, job.checkpoint, device, crop)
    pre = job.preprocess or loaded.preprocess
    job = job if crop else fit_batch(job, pre.crop_size)
    if (fixed := fixed_batch(loaded.model)) and job.batch_size != fixed:  # shards of the file's static batch
        job = replace(job, batch_size=fixed)
    blocks = block_names(loaded.model, pre, min(job.batch_size, max(1, len(images.files))))
    study = (design(loaded.model, pre.crop_size, images.classes, images.labels, job.lesion, job.class_names)
             if job.lesion else None)
    wanted = manifest(job, images, pre, loaded.weights_label, blocks)
    claim(job.out, wanted)
    tally = Tally(job.out, job.top_k)
    every = shards(images, job.batch_size)
    todo = [s for s in every if not tally.done(s.index)]
    total, done = len(images.files), len(images.files) - sum(len(s.images) for s in todo)
    if progress:
        progress(done, total)

    def finished(index: int, result: ShardResult) -> None:
        nonlocal done
        tally.add(index, result)
        done += result.used + len(result.skipped)
        if progress:
            progress(done, total)

    try:
        if todo:
            runner.run(job, images, pre, loaded.model, blocks, todo, finished, study)
    finally:  # (an interrupted run keeps what it did)
        tally.save()
    if tally.next < len(every):
        raise DatasetError(f"{len(every) - tally.next} of {len(every)} shards did not come back; run the same "
                           "command again to finish them")
    if tally.merged.used == 0:
        index, why = tally.merged.skipped[0] if tally.merged.skipped else (0, "not readable")
        raise DatasetError(f"none of the {len(images.files):,} images could be used ({images.files[index]}: {why})")
    return write_outputs(job, images, wanted, blocks, tally.merged, time.perf_counter() - start, study)


def run_memory(model: Model, crop: int, batch: int, lesion: bool) -> tuple[int, int]:
    """(weights, the rest) a run needs at ``batch`` images of ``crop`` px, from the meta-device trace: the
    forward's peak, the decoded batch (uint8 and float), and for a lesion study the tape (a copy of every value
    read after a cut: at most what autograd would save, ``training_activations_bytes``) and a replay's peak."""
    from ..tracing.cache import structure_trace

    memory = structure_trace(model, crop).memory
    assert memory is not None  # structure traces always measure it
    rest = memory.inference_peak_bytes(batch) + batch * 3 * crop * crop * (1 + 4 + 4)
    if lesion:
        rest += memory.training_activations_bytes(batch) + memory.inference_peak_bytes(batch)
    return memory.weights_bytes(), rest


def fit_batch(job: DatasetJob, crop: int) -> DatasetJob:
    """The job at the largest batch (up to its own) whose memory fits ``limits.max_model_mb``; refused, before
    anything runs, when one image does not fit."""
    from ..limits import ModelTooLarge, format_bytes, how_to_raise

    limit = job.limits.model_bytes
    batch = job.batch_size
    while batch >= 1:
        weights, rest = run_memory(job.model, crop, batch, job.lesion is not None)
        if weights + rest <= limit:
            break
        batch = batch // 2 if batch > 1 else 0
    if batch < 1:
        weights, rest = run_memory(job.model, crop, 1, job.lesion is not None)
        raise ModelTooLarge(f"this run needs {format_bytes(weights + rest)} for one {crop} px image"
                            f"{' with its lesion tape' if job.lesion else ''}, over the {format_bytes(limit)} limit "
                            f"({how_to_raise('max_model_mb')}); try a smaller crop")
    return job if batch == job.batch_size else replace(job, batch_size=batch, lowered_from=job.batch_size)


def block_names(model, pre: Preprocess, batch: int = 1) -> list[str]:  # noqa: ANN001 - an nn.Module
    """The blocks, from the plan of a batch like the engines' (``to_batch``'s layout, the model's dtype): the
    local engine's first batch then finds it made."""
    import numpy as np

    from ..features.capture import input_like
    from ..tracing.static import padded
    from ..tracing.watch import plan_for
    from .folder import to_batch

    x = input_like(model, to_batch([np.zeros((pre.crop_size, pre.crop_size, 3), np.uint8)] * batch, pre))
    return [b.name for b in plan_for(model, padded(model, x)[0]).blocks]


def write_outputs(job: DatasetJob, images: ImageSet, wanted: dict, blocks: list[str], merged: ShardResult,
                  seconds: float, study: Design | None = None) -> dict:
    """The files, from every shard's partials merged in shard order."""
    per_block = []
    if merged.part is not None:
        edges = np.cumsum([0, *merged.channels])
        per_block = [(b, merged.part.channels(lo, hi)) for b, lo, hi in zip(blocks, edges, edges[1:])]
    files = ["summary.json"]
    for name, columns, tables in (("channels", CHANNEL_COLUMNS, [channel_columns(b, p) for b, p in per_block]),
                                  ("top", TOP_COLUMNS, [top_columns(b, p, images.files) for b, p in per_block])):
        _csv(job.out / f"{name}.csv", columns, tables)
        files += [f"{name}.csv"] + ([f"{name}.parquet"] if _parquet(job.out / f"{name}.parquet", columns, tables)
                                    else [])
    lesion = study is not None and merged.lesion is not None
    files += ["lesion.csv", "lesion_k.csv"] if lesion else []
    summary = {**{k: wanted[k] for k in ("model", "weights", "preprocessing", "top_k", "batch_size")},
               "weights_file": str(Path(job.checkpoint).resolve()) if job.checkpoint and job.weights == "file" else None,
               "engine": job.engine, "folder": job.folder.name, "root": str(job.folder.resolve()), "images": len(images.files), "images_used": merged.used,
               "classes": list(images.classes),
               "skipped": [{"file": images.files[i], "reason": r} for i, r in merged.skipped],
               "blocks": blocks, "seconds": round(seconds, 3), "files": files,
               **({"batch_lowered_from": job.lowered_from} if job.lowered_from else {})}
    if lesion:
        summary.update(write_lesion(job, study, merged.lesion))
    atomic(job.out / "summary.json", json.dumps(summary, indent=1).encode())
    return summary


def write_lesion(job: DatasetJob, design: Design, total: LesionPartial) -> dict:
    """lesion.csv and lesion_k.csv from the shards' lesion partials (merged in shard order); the summary's part."""
    _csv(job.out / "lesion.csv", LESION_COLUMNS, [_columns(LESION_COLUMNS, lesion_rows(design.names, design.projections, total))])
    _csv(job.out / "lesion_k.csv", DRAW_COLUMNS, [_columns(DRAW_COLUMNS, draw_rows(design.names, design.chosen, total))])
    labelled = int(total.labelled)
    return {"accuracy": int(total.full_correct) / labelled if labelled else None, "labelled": labelled,
            "labels": design.rule, "lesion": {**asdict(job.lesion), "blocks": design.names, "projection": design.projections}}


def _columns(columns, rows: list[dict]) -> dict[str, list]:  # noqa: ANN001
    return {c: [row[c] for row in rows] for c in columns}


def _csv(path: Path, columns, tables: list[dict]) -> None:  # noqa: ANN001 - column names
    """Tables (column -> values, one table after another) as one CSV, written at once: floats to nine
    significant digits, strings quoted where they need it (as the csv module would). Cells are made a column
    at a time and joined by row in C (``map``): a ResNet-50 top.csv (240,000 rows) in a third of the time of
    a %-format per row."""
    lines = [",".join(columns)]
    for table in tables:
        lines.extend(map(",".join, zip(*(_cells(table[c]) for c in columns))))
    atomic(path, ("\n".join(lines) + "\n").encode())


def _parquet(path: Path, columns, tables: list[dict]) -> bool:  # noqa: ANN001 - column names
    """The same table as Parquet where pyarrow is installed (an extra): typed columns, the float32 values
    exactly, a fifth of the CSV's size (ResNet-50's top table at k = 100, 1.5 million rows: 15 MiB against 73,
    written in 1.0 s against the CSV's 2.4). Without pyarrow none is written, and one an earlier run left is
    removed (never a stale file beside fresh CSVs)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        path.unlink(missing_ok=True)
        return False
    table = (pa.concat_tables([pa.table({c: t[c] for c in columns}) for t in tables]) if tables
             else pa.table({c: pa.array([], pa.string()) for c in columns}))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic(path, sink.getvalue().to_pybytes())
    return True


def _cells(values) -> list[str] | np.ndarray:  # noqa: ANN001 - a list or an array
    """A column's cells as text."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return list(map("%.9g".__mod__, values.tolist()))
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        if values.size and 0 <= values.min() and values.max() < 65536:  # (indices: a table of their texts)
            return np.array([str(i) for i in range(int(values.max()) + 1)], dtype=object)[values]
        return list(map(str, values.tolist()))
    values = values.tolist() if isinstance(values, np.ndarray) else values
    if set(map(type, values)) == {str}:  # each text quoted once: a block's name, an image in many top lists
        return list(map({v: _quote(v) for v in set(values)}.__getitem__, values))
    quoted: dict[tuple, str] = {}
    out = []
    for v in values:
        key = (type(v), v)  # (True and 1 are equal keys)
        if key not in quoted:
            quoted[key] = _quote(f"{v:.9g}" if isinstance(v, float) else "" if v is None else str(v))
        out.append(quoted[key])
    return out


def _quote(text: str) -> str:
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


__all__ = ["DatasetJob", "ENGINES", "ENGINE_MODULES", "Progress", "check_job", "claim", "engine", "run_dataset",
           "write_outputs"]
