"""Structure traces by config, cached: the hooks stay the source of truth, but each config runs once."""
from __future__ import annotations

from functools import lru_cache

from resnet import ResNetConfig, build

from .records import Trace
from .tracer import trace

MIN_INPUT_SIZE = 32  # below the network's output stride the last stages collapse to 1×1
MAX_INPUT_SIZE = 1024
CACHE_SIZE = 32


def check_input_size(input_size: object) -> int:
    if isinstance(input_size, bool) or not isinstance(input_size, int):
        raise ValueError(f"input size must be an integer from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE}, got {input_size!r}")
    if not MIN_INPUT_SIZE <= input_size <= MAX_INPUT_SIZE:
        raise ValueError(f"input size must be from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE} px, got {input_size}")
    return input_size


def structure_trace(config: ResNetConfig, input_size: int = 224) -> Trace:
    """Trace a structure-only model (no weight initialisation) of ``config``; LRU-cached."""
    return _structure_trace(config, check_input_size(input_size))


@lru_cache(maxsize=CACHE_SIZE)
def _structure_trace(config: ResNetConfig, input_size: int) -> Trace:
    return trace(build(config, init_weights=False), input_size=input_size)
