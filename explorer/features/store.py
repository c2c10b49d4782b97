"""Feature-map runs: models kept by (config, weights, device), image -> crop -> capture, captures kept by id.

One ``FeatureStore`` per server (or CLI run), sized by its ``Limits``. A cached model is shared, and a watched
run (a torch function mode numbering its ops) must not interleave with another thread's forward of it, so each
model has a lock held for the whole capture.
"""
from __future__ import annotations

import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from torch import nn

from resnet import Preprocess, ResNetConfig, find_cached, load_weights
from resnet.presets import WeightsInfo, weights_by_filename

from ..files import display_name
from ..limits import DEFAULT_LIMITS, Limits
from ..models import OWN_WEIGHTS, LiveModel, Model, own_preprocess, real_model
from ..tracing.cache import check_model_fits
from ..tracing.device import resolve_device
from .cam import CamRun, cam_run
from .capture import Capture, capture
from .images import ImageError, load_image

RANDOM_SEED = 0
CAM_RUNS = 2  # class-map runs kept (each holds its graph for class switching: about a training step's activations)
WEIGHT_SOURCES = ("random", "hub", "file")
RANDOM_NOTICE = (f"Random weights (seed {RANDOM_SEED}): the maps show how signals flow through the structure, "
                 "not learned features. Load trained weights to see real features and predictions.")


class Expired(KeyError):
    """A run asked for by id that is no longer (or never was) kept; ``args[0]`` says what to do."""


@dataclass
class LoadedModel:
    model: nn.Module
    lock: threading.Lock
    weights_label: str  # what the weights are, for the UI
    trained: bool  # trained weights (predictions make sense) or random
    preprocess: Preprocess


@dataclass(frozen=True)
class WeightsKey:
    """Which weights: random (seed), or a file identified by its path, size and modification time."""

    source: str  # "random" or "file"
    path: str = ""
    size: int = 0
    mtime_ns: int = 0


def weights_key(config: Model, source: str, path: str | None) -> WeightsKey:
    if source == "random":
        return WeightsKey("random")
    if source == "hub":
        found = find_cached(config.preset) if isinstance(config, ResNetConfig) and config.preset else None
        if found is None:
            raise ValueError(f"no checkpoint for {config.title} in the torch hub cache; download it (the button "
                             "above, or python -m explorer weights download), upload one, or use random weights")
        path = str(found[0])
    if source in ("hub", "file"):
        if not path:
            raise ValueError("choose a checkpoint file to load")
        st = Path(path).stat()
        return WeightsKey("file", str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    raise ValueError(f"weights must be one of {list(WEIGHT_SOURCES)}, got {source!r}")


def _label(path: str, info: WeightsInfo | None, pre: Preprocess) -> str:
    return (display_name(Path(path).name) + (f" ({info.description})" if info else "")
            + f"; preprocessing: resize {pre.resize_size}, centre crop {pre.crop_size}")


class FeatureStore:
    """Models with weights (LRU, ``limits.model_cache``) and captures for block switching (LRU, at most
    ``limits.capture_store`` of them and ``limits.capture_mb`` in total)."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._models: OrderedDict[tuple, LoadedModel] = OrderedDict()
        self._models_lock = threading.Lock()
        self._captures: OrderedDict[str, Capture] = OrderedDict()
        self._cams: OrderedDict[str, CamRun] = OrderedDict()
        self._captures_lock = threading.Lock()
        # One real pass at a time, whatever the model: a pass already uses every core, and two would need two
        # passes' activations at once.
        self._passes = threading.BoundedSemaphore(1)

    def model(self, config: Model, source: str = "random", path: str | None = None,
              device: str | torch.device | None = "cpu", input_size: int | None = None) -> LoadedModel:
        """A cached model for ``config`` with the chosen weights on ``device``; refused before anything is
        allocated when it needs more than ``limits.max_model_mb`` at ``input_size`` (default: the weights'
        own crop)."""
        dev = config.device if isinstance(config, LiveModel) else resolve_device(device)  # never moved
        wk = WeightsKey("own") if isinstance(config, OWN_WEIGHTS) else weights_key(config, source, path)
        key = (config, wk, str(dev))
        with self._models_lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        info = weights_by_filename(Path(wk.path).name) if wk.source == "file" else None
        pre = info.transforms if info else (own_preprocess(config) or Preprocess())
        check_model_fits(config, input_size or pre.crop_size, self.limits)
        if wk.source == "own":  # a model file carries its weights: they are what runs, whatever was chosen
            loaded = LoadedModel(config.build(), threading.Lock(), f"{config.name} (its own weights)", True, pre)
        elif wk.source == "random":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_SEED)
                model = real_model(config)
            loaded = LoadedModel(model, threading.Lock(), f"random (seed {RANDOM_SEED})", False, pre)
        else:
            model = load_weights(real_model(config, init=False), wk.path, max_bytes=self.limits.checkpoint_bytes,
                                 max_keys=self.limits.max_checkpoint_keys)
            loaded = LoadedModel(model, threading.Lock(), _label(wk.path, info, pre), True, pre)
        loaded.model = loaded.model.to(dev).eval()
        with self._models_lock:
            self._models[key] = loaded
            while len(self._models) > self.limits.model_cache:
                self._models.popitem(last=False)
        return loaded

    def run_image(self, config: Model, image: str | os.PathLike[str] | bytes, source: str = "random",
                  path: str | None = None, device: str | torch.device | None = "cpu",
                  preprocess: Preprocess | None = None) -> tuple[str, Capture, LoadedModel]:
        """Decode ``image``, preprocess it for the weights (or as ``preprocess`` says: a dataset run's own),
        capture every block; returns (id, capture, model)."""
        loaded = self.model(config, source, path, device, preprocess.crop_size if preprocess else None)
        pre = preprocess or loaded.preprocess
        try:
            crop = pre.crop(load_image(image, need_short_side=pre.resize_size, limits=self.limits))
        except OSError as exc:  # PIL decodes lazily: a damaged file can fail only at the crop
            raise ImageError("the image is damaged or truncated and cannot be decoded") from exc
        with self._passes, loaded.lock:
            cap = capture(loaded.model, pre.to_tensor(crop), budget_bytes=self.limits.capture_bytes)
        cap.crop = crop
        cap.model_name = config.spec  # the name every view of this model has (a checkpoint's, a file's)
        cap.request = (config, source, path, device)  # what a class-map run of the same image loads
        if not loaded.trained:
            cap.notices.insert(0, RANDOM_NOTICE)
        return self.keep(cap), cap, loaded

    def keep(self, cap: Capture) -> str:
        """Store ``cap`` for later block switches; returns its id."""
        cid = uuid.uuid4().hex
        with self._captures_lock:
            self._captures[cid] = cap
            while len(self._captures) > 1 and (
                    len(self._captures) > self.limits.capture_store
                    or sum(c.nbytes for c in self._captures.values()) > self.limits.capture_bytes):
                self._captures.popitem(last=False)
        return cid

    def cam(self, cid: str, target: int | None = None) -> tuple[CamRun, LoadedModel]:
        """Class maps at every block for the image of run ``cid`` (one forward, one backward); kept for
        switching block, method or class. ``target`` defaults to the top-1 class."""
        cap = self.capture(cid)
        loaded = self.model(*cap.request)
        with self._passes, loaded.lock:
            run = cam_run(loaded.model, loaded.preprocess.to_tensor(cap.crop), target,
                          device=resolve_device(cap.request[3]), budget_bytes=self.limits.capture_bytes)
        run.model_name = cap.model_name
        with self._captures_lock:
            self._cams[cid] = run
            self._cams.move_to_end(cid)
            while len(self._cams) > CAM_RUNS:
                self._cams.popitem(last=False)
        return run, loaded

    def cam_run(self, cid: str) -> CamRun:
        with self._captures_lock:
            run = self._cams.get(cid)
        if run is None:
            raise Expired("compute the class maps of this image first")
        return run

    def capture(self, cid: str) -> Capture:
        with self._captures_lock:
            cap = self._captures.get(cid)
            if cap is not None:
                self._captures.move_to_end(cid)
        if cap is None:
            raise Expired("that image run has expired; run the image again")
        return cap
