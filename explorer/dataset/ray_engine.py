"""The Ray engine: Ray Data reads and decodes shards on CPU tasks, an actor pool holds the model (a GPU each
where the cluster has GPUs) and reduces each shard to its partials, which stream back to the driver and are
written as they come. Ray is optional (``pip install -e .[ray]``); pinned, since ``map_batches``' ``compute`` /
``concurrency`` API changed twice (2.60 takes ``compute=ActorPoolStrategy(size=n)``; ``concurrency`` is deprecated).
The bounded retries (``max_retries``, ``max_restarts``, ``max_task_retries``) have no named parameter in 2.60 and
go as its deprecated ``**ray_remote_args``: Ray Data's default, restarting an actor forever, would wedge a run
whose actor dies every time (a model too large for the node's memory).

Around Ray's known pitfalls: the work is a list of shards (paths, never a directory listing), every shard is
decoded to one uniform size before it is batched, the model stage has an explicit ``batch_size`` (one shard),
only small partials (npz bytes) go back through the object store, and every stage asks for a fraction of a
CPU, so on a two-core machine the read stage is not starved by an actor pool holding whole CPUs.
"""
from __future__ import annotations

import io
import json
import os
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from resnet import Preprocess

from .folder import ImageSet
from .shards import Shard, decode_shard, run_shard
from .tally import ShardResult

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..lesion.study import Design
    from .job import DatasetJob

RAY_MISSING = "ray is not installed (pip install 'ray[data]==2.60.0'): it is needed for --engine ray"
STAGE_CPUS = 0.5  # each decode task and each actor: two of either fit a two-core machine


def _preprocess(pre: dict) -> Preprocess:
    return Preprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in pre.items()})


def _decode(row: dict[str, Any], root: str, pre: dict, limits: Any) -> dict[str, Any]:
    """A decode task: ``decode_shard`` on one shard's row, its crops as npy bytes (plain arrays, no pickle)."""
    from pathlib import Path

    crops, used, skipped = decode_shard(Path(root), [str(f) for f in row["files"]], list(row["indices"]),
                                        _preprocess(pre), limits)
    buffer = io.BytesIO()
    np.save(buffer, crops, allow_pickle=False)
    return {"shard": int(row["shard"]), "crops": buffer.getvalue(), "used": json.dumps(used),
            "skipped": json.dumps(skipped)}


class _Reducer:
    """An actor holding the model: ``run_shard`` on each shard's crops, its partials (npz bytes) out."""

    def __init__(self, job: DatasetJob, pre: dict, blocks: list[str], design: Design | None = None) -> None:
        import torch

        from ..features.store import FeatureStore
        from ..tracing import resolve_device

        if job.threads:
            torch.set_num_threads(job.threads)
        self.device = resolve_device("cuda" if torch.cuda.is_available() and job.device != "cpu" else "cpu")
        self.model = FeatureStore(job.limits).model(job.model, job.weights, job.checkpoint, self.device).model
        self.pre, self.blocks, self.k, self.design = _preprocess(pre), blocks, job.top_k, design
        pid_file = os.environ.get("RESNET_EXPLORER_RAY_PIDS")  # the tests kill an actor by its pid
        if pid_file:
            with open(pid_file, "a") as f:
                f.write(f"{os.getpid()}\n")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        from ..tracing.hooks import running_on

        out: dict[str, list] = {"shard": [], "partial": []}
        for shard, crops, used, skipped in zip(batch["shard"], batch["crops"], batch["used"], batch["skipped"]):
            arr = np.load(io.BytesIO(bytes(crops)), allow_pickle=False)
            with running_on(self.model, self.device):
                result = run_shard(self.model, self.device, arr, json.loads(str(used)),
                                   [tuple(s) for s in json.loads(str(skipped))], self.pre, self.blocks, self.k,
                                   self.design)
            out["shard"].append(int(shard))
            out["partial"].append(result.pack())
        return out


def planning_device(job: DatasetJob) -> torch.device:
    """Where the driver builds the model: the CPU, whatever ``--device`` says (it only plans the blocks; the
    actors hold the GPUs, and the head of a cluster often has none). ``--device`` is checked here: CPUs and CUDA
    GPUs are what Ray schedules."""
    import torch

    from .folder import DatasetError

    try:
        kind = "auto" if job.device == "auto" else torch.device(job.device).type
    except RuntimeError:
        kind = None
    if kind not in ("auto", "cpu", "cuda"):
        raise DatasetError(f"--engine ray runs on CPUs and CUDA GPUs: --device must be auto, cpu or cuda, got "
                           f"{job.device!r}")
    return torch.device("cpu")


def run(job: DatasetJob, images: ImageSet, pre: Preprocess, model: nn.Module, blocks: list[str], todo: list[Shard],
        finished: Callable[[int, ShardResult], None], design: Design | None = None) -> None:
    """The shards on Ray Data (``model``, the driver's, only planned the run: each actor builds its own)."""
    del model
    try:
        import ray
    except ImportError:
        from .folder import DatasetError

        raise DatasetError(RAY_MISSING) from None
    from dataclasses import asdict

    started = not ray.is_initialized()
    if started:
        ray.init(address=job.ray_address or "local", include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(_paths())}} if not job.ray_address else None)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0)) if job.device != "cpu" else 0
        if not gpus and job.device.startswith("cuda"):
            from .folder import DatasetError

            raise DatasetError(f"--device {job.device}: this Ray cluster has no GPU (--device auto takes its GPUs "
                               "where it has them, else its CPUs)")
        actors = max(1, gpus) if gpus else max(1, min(len(todo), int(ray.cluster_resources().get("CPU", 1) / 2 /
                                                                     STAGE_CPUS)))
        rows = [{"shard": s.index, "indices": s.images, "files": [images.files[i] for i in s.images]} for s in todo]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
        ds = ds.map(_decode, fn_kwargs={"root": str(images.root), "pre": asdict(pre), "limits": job.limits},
                    num_cpus=STAGE_CPUS, max_retries=3)
        ds = ds.map_batches(_Reducer, fn_constructor_kwargs={"job": job, "pre": asdict(pre), "blocks": blocks,
                                                             "design": design},
                            batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
                            num_cpus=STAGE_CPUS,
                            num_gpus=1 if gpus else 0, max_restarts=3, max_task_retries=3)
        for row in ds.select_columns(["shard", "partial"]).iter_rows():
            finished(int(row["shard"]), ShardResult.unpack(bytes(row["partial"]))[0])
    finally:
        if started and not job.ray_address:
            ray.shutdown()


def _paths() -> list[str]:
    """Where this package lives, for workers started without it on their path."""
    from pathlib import Path

    return [str(Path(__file__).resolve().parents[2])]


__all__ = ["RAY_MISSING", "planning_device", "run"]
