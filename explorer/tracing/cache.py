"""Structure traces by model, cached: each model is recorded once (on the meta device), whatever views ask."""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ..limits import MIN_INPUT_SIZE, Limits
from ..models import Model, meta_model
from .records import Trace
from .tracer import trace

CACHE_SIZE = 32


def check_input_size(input_size: object) -> int:
    """A whole number of pixels the network can take (the upper bound is a limit: ``explorer.limits``)."""
    if isinstance(input_size, bool) or not isinstance(input_size, int):
        raise ValueError(f"input size must be a whole number of pixels, at least {MIN_INPUT_SIZE}, got {input_size!r}")
    if input_size < MIN_INPUT_SIZE:
        raise ValueError(f"input size must be at least {MIN_INPUT_SIZE} px, got {input_size}")
    return input_size


def structure_trace(model: Model, input_size: int = 224) -> Trace:
    """Trace ``model`` (a ``ResNetConfig`` or a ``TimmModel``) on the meta device, memory included: nothing is
    allocated, whatever its size; LRU-cached."""
    return _structure_trace(model, check_input_size(input_size))


@lru_cache(maxsize=CACHE_SIZE)
def _structure_trace(model: Model, input_size: int) -> Trace:
    t = trace(meta_model(model), input_size=input_size, memory=True, device="meta")
    return t if t.model_name == model.spec else replace(t, model_name=model.spec)


def check_model_fits(model: Model, input_size: int, limits: Limits) -> None:
    """Refuse, before anything is allocated, to run ``model`` for real when its weights and inference peak
    at ``input_size`` are over ``limits.max_model_mb`` (the estimate comes from the meta-device trace)."""
    memory = structure_trace(model, input_size).memory
    assert memory is not None  # structure traces always measure it
    limits.check_model_memory(memory.weights_bytes(), memory.inference_peak_bytes(), input_size)
