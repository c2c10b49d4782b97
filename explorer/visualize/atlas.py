"""An atlas: the picture of every channel of a block, or of every block, as files. The channels are cut into shards
that an engine paints (here, in this process; or Ray actors, a GPU each where the cluster has GPUs), and a run
that stops continues where it was: a shard is done once its record is on disk, written after its pictures. Every
picture has its own seed, so a shard painted anywhere, in any order, gives the same picture.

Examples:
    >>> from explorer.visualize.atlas import AtlasJob, run_atlas
    >>> run_atlas(AtlasJob(parse_model("resnet18"), "hub", None, ("layer4.1",), Settings(steps=256), Path("atlas")))
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from ..files import atomic, claim
from ..limits import DEFAULT_LIMITS, Limits
from .optimise import Settings, visualize

STAGE_CPUS = 0.5  # a Ray actor's share of a CPU: two fit a two-core machine (a whole-CPU pair starves the driver)


class AtlasError(ValueError):
    """An atlas that cannot run; the message says why."""


@dataclass(frozen=True)
class AtlasJob:
    model: Any  # a Model the explorer opens (a spec or a file: what a Ray actor can build again)
    weights: str  # random, hub or file
    checkpoint: str | None
    blocks: tuple[str, ...] | None  # None: every block
    settings: Settings
    out: Path
    normalisation: str | None = None  # a dataset's mean and std (default: the model's own)
    shard: int = 8  # channels per shard
    engine: str = "local"  # or "ray"
    ray_address: str | None = None
    device: str = "cpu"
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)


@dataclass(frozen=True)
class AtlasShard:
    index: int
    block: str
    channels: tuple[int, ...]


def _loaded(job: AtlasJob, device: str) -> tuple[Any, tuple, tuple]:
    """The model with the job's weights on ``device``, and its normalisation (mean, std)."""
    from ..features.store import FeatureStore
    from ..tracing import resolve_device

    loaded = FeatureStore(job.limits).model(job.model, job.weights, job.checkpoint, resolve_device(device))
    pre = loaded.preprocess.normalised(job.normalisation) if job.normalisation else loaded.preprocess
    return loaded, tuple(pre.mean), tuple(pre.std)


def shards_of(model: Any, job: AtlasJob) -> list[AtlasShard]:
    """The job's channels, ``job.shard`` at a time, block by block (widths from a trace on the meta device)."""
    from ..tracing import trace

    widths = {b.name: b.out_shape[0] for b in trace(model, input_size=job.settings.input_size or job.settings.size,
                                                   device="meta").blocks}
    unknown = [b for b in job.blocks or () if b not in widths]
    if unknown:
        names = list(widths)
        raise AtlasError(f"no block {unknown[0]!r} in this model (blocks: {names[0]} … {names[-1]})")
    out: list[AtlasShard] = []
    for block in job.blocks or tuple(widths):
        for lo in range(0, widths[block], job.shard):
            out.append(AtlasShard(len(out), block, tuple(range(lo, min(lo + job.shard, widths[block])))))
    return out


def paint(model: Any, shard: AtlasShard, settings: Settings, mean: tuple, std: tuple,
          device: Any = None) -> dict[str, Any]:
    """One shard's pictures (file name -> H×W×3 uint8) and its record (the numbers of each picture)."""
    pictures = visualize(model, shard.block, list(shard.channels), settings, mean, std, device=device,
                         batch=len(shard.channels) * settings.per_channel)
    name = lambda p: p.file_name(settings.per_channel > 1)  # noqa: E731
    return {"record": {"shard": shard.index, "block": shard.block,
                       "pictures": [{"channel": p.channel, "index": p.index, "file": name(p), "mean": p.mean,
                                     "peak": p.peak, "device": p.device, "notice": p.notice} for p in pictures]},
            "pixels": {name(p): p.pixels for p in pictures}}


def run_atlas(job: AtlasJob, progress: Callable[[int, int], None] | None = None) -> dict:
    """Paint every shard not yet on disk, on the job's engine; then ``atlas.json``: every picture's numbers."""
    if job.engine not in ENGINES:
        raise AtlasError(f"the engine is local or ray, not {job.engine!r}")
    loaded, mean, std = _loaded(job, "cpu" if job.engine == "ray" else job.device)
    shards = shards_of(loaded.model, job)
    settings = json.loads(json.dumps(asdict(job.settings)))
    claim(job.out, {"model": job.model.spec, "weights": loaded.weights_label, "settings": settings, "mean": list(mean),
                     "std": list(std), "blocks": sorted({s.block for s in shards}), "shard": job.shard}, "shards",
          AtlasError, "an atlas")
    records = job.out / "shards"
    todo = [s for s in shards if not (records / f"{s.index:06d}.json").exists()]
    done = len(shards) - len(todo)

    def finished(result: dict[str, Any]) -> None:
        nonlocal done
        for file, pixels in result["pixels"].items():
            Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(job.out / file)
        atomic(records / f"{result['record']['shard']:06d}.json", json.dumps(result["record"]).encode())
        done += 1
        if progress is not None:
            progress(done, len(shards))

    ENGINES[job.engine](job, loaded.model, mean, std, todo, finished)
    pictures = [p for s in shards for p in json.loads((records / f"{s.index:06d}.json").read_text())["pictures"]]
    summary = {"model": job.model.spec, "weights": loaded.weights_label, "trained": loaded.trained,
               "settings": settings, "engine": job.engine, "shards": len(shards), "resumed_from": len(shards) - len(todo),
               "pictures": pictures}
    atomic(job.out / "atlas.json", json.dumps(summary, indent=1).encode())
    return summary


def _local(job: AtlasJob, model: Any, mean: tuple, std: tuple, todo: list[AtlasShard],
           finished: Callable[[dict], None]) -> None:
    from ..tracing import resolve_device

    dev = resolve_device(job.device)
    for shard in todo:
        finished(paint(model, shard, job.settings, mean, std, dev))


class _Painter:
    """A Ray actor holding the model (on its GPU where it has one): ``paint`` on each shard it is given."""

    def __init__(self, job: AtlasJob, gpu: bool) -> None:
        loaded, self.mean, self.std = _loaded(job, "cuda" if gpu else "cpu")
        self.job, self.model = job, loaded.model

    def paint(self, shard: AtlasShard) -> dict[str, Any]:
        return paint(self.model, shard, self.job.settings, self.mean, self.std)


def _ray(job: AtlasJob, model: Any, mean: tuple, std: tuple, todo: list[AtlasShard],
         finished: Callable[[dict], None]) -> None:
    """The shards on Ray actors, streamed back as each is painted (``ray.wait``); an actor that dies is restarted
    and its shard retried, a few times."""
    del model, mean, std
    try:
        import ray
    except ImportError:
        raise AtlasError("ray is not installed (pip install 'ray[data]==2.60.0'): it is needed for --engine ray") \
            from None
    started = not ray.is_initialized()
    if started:
        root = str(Path(__file__).resolve().parents[2])
        ray.init(address=job.ray_address or "local", include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True,
                 runtime_env={"env_vars": {"PYTHONPATH": root}} if not job.ray_address else None)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0)) if job.device != "cpu" else 0
        cpus = ray.cluster_resources().get("CPU", 1)
        n = max(1, gpus) if gpus else max(1, min(len(todo), int(cpus / 2 / STAGE_CPUS)))
        actor = ray.remote(num_cpus=STAGE_CPUS, num_gpus=1 if gpus else 0, max_restarts=3,
                           max_task_retries=3)(_Painter)
        painters = [actor.remote(replace(job, out=Path(job.out)), bool(gpus)) for _ in range(n)]
        pending = {painters[i % n].paint.remote(s): s for i, s in enumerate(todo)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pending.pop(ref)
                finished(ray.get(ref))
    finally:
        if started and not job.ray_address:
            ray.shutdown()


ENGINES: dict[str, Callable[..., None]] = {"local": _local, "ray": _ray}

__all__ = ["ENGINES", "AtlasError", "AtlasJob", "AtlasShard", "paint", "run_atlas", "shards_of"]
