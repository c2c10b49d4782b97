"""Feature-map runs: models cached by (config, weights, device), image -> crop -> capture, captures kept by id.

A cached model is shared, and hooks on a shared model would see every thread's forward pass, so each
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

from resnet import Preprocess, ResNet, ResNetConfig, build, find_cached, load_weights
from resnet.weights import weights_by_filename

from .capture import Capture, capture
from .images import load_image
from .tracer import resolve_device

RANDOM_SEED = 0
MODEL_CACHE_SIZE = 2  # set from explorer.limits
CAPTURE_STORE_SIZE = 32  # at least the number of users switching blocks at once
CAPTURE_STORE_BYTES = 512 * 2**20
WEIGHT_SOURCES = ("random", "hub", "file")


@dataclass
class _Entry:
    model: ResNet
    lock: threading.Lock
    label: str  # what the weights are, for the UI
    real: bool  # trained weights (predictions make sense) or random
    preprocess: Preprocess


_models: OrderedDict[tuple, _Entry] = OrderedDict()
_models_lock = threading.Lock()
_captures: OrderedDict[str, Capture] = OrderedDict()
_captures_lock = threading.Lock()


def _weights_key(config: ResNetConfig, source: str, path: str | None) -> tuple:
    if source == "random":
        return ("random", RANDOM_SEED)
    if source == "hub":
        found = find_cached(config.name or "") if config.is_preset else None
        if found is None:
            raise ValueError(f"no checkpoint for {config.title} in the torch hub cache "
                             f"({Path(torch.hub.get_dir()) / 'checkpoints'}); upload one or use random weights")
        path = str(found[0])
    if source in ("hub", "file"):
        if not path:
            raise ValueError("choose a checkpoint file to load")
        st = Path(path).stat()
        return ("file", str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    raise ValueError(f"weights must be one of {list(WEIGHT_SOURCES)}, got {source!r}")


def get_model(config: ResNetConfig, source: str = "random", path: str | None = None,
              device: str | torch.device | None = "cpu") -> _Entry:
    """A cached model for ``config`` with the chosen weights on ``device`` (LRU, MODEL_CACHE_SIZE entries)."""
    dev = resolve_device(device)
    wkey = _weights_key(config, source, path)
    key = (config, wkey, str(dev))
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    if wkey[0] == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            model = build(config)
        label, real, pre = f"random (seed {RANDOM_SEED})", False, Preprocess()
    else:
        model = load_weights(build(config, init_weights=False), wkey[1])
        info = weights_by_filename(wkey[1])
        pre = Preprocess(info.resize_size, info.crop_size) if info else Preprocess()
        label = (f"{Path(wkey[1]).name}" + (f" (torchvision {info.tag})" if info else "")
                 + f"; preprocessing: resize {pre.resize_size}, centre crop {pre.crop_size}")
        real = True
    model = model.to(dev).eval()
    entry = _Entry(model, threading.Lock(), label, real, pre)
    with _models_lock:
        _models[key] = entry
        while len(_models) > MODEL_CACHE_SIZE:
            _models.popitem(last=False)
    return entry


def run_image(config: ResNetConfig, image: str | os.PathLike[str] | bytes, source: str = "random",
              path: str | None = None, device: str | torch.device | None = "cpu",
              budget_bytes: int | None = None) -> tuple[str, Capture, _Entry]:
    """Decode ``image``, preprocess it for the weights, capture every block; returns (id, capture, model entry)."""
    entry = get_model(config, source, path, device)
    pre = entry.preprocess
    crop = pre.crop(load_image(image, need_short_side=pre.resize_size))
    with entry.lock:
        cap = capture(entry.model, pre.to_tensor(crop), budget_bytes=budget_bytes)
    cap.crop = crop
    if not entry.real:
        cap.notices.insert(0, f"Random weights (seed {RANDOM_SEED}): the maps show how signals flow through the structure, "
                              "not learned features. Load trained weights to see real features and predictions.")
    return store(cap), cap, entry


def store(cap: Capture) -> str:
    cid = uuid.uuid4().hex
    with _captures_lock:
        _captures[cid] = cap
        while len(_captures) > 1 and (len(_captures) > CAPTURE_STORE_SIZE
                                      or sum(c.nbytes for c in _captures.values()) > CAPTURE_STORE_BYTES):
            _captures.popitem(last=False)
    return cid


def get_capture(cid: str) -> Capture:
    with _captures_lock:
        cap = _captures.get(cid)
        if cap is not None:
            _captures.move_to_end(cid)
    if cap is None:
        raise KeyError("that image run has expired; run the image again")
    return cap
