"""Structure traces by config, cached: the hooks stay the source of truth, but each config runs once."""
from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from resnet import ResNetConfig, build

from .records import Trace
from .tracer import trace

MIN_INPUT_SIZE = 32  # below the network's output stride the last stages collapse to 1×1
MAX_INPUT_SIZE = 1024
CACHE_SIZE = 32

_cache: OrderedDict[tuple[ResNetConfig, str, int], Trace] = OrderedDict()
_lock = Lock()


def check_input_size(input_size: object) -> int:
    if isinstance(input_size, bool) or not isinstance(input_size, int):
        raise ValueError(f"input size must be an integer from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE}, got {input_size!r}")
    if not MIN_INPUT_SIZE <= input_size <= MAX_INPUT_SIZE:
        raise ValueError(f"input size must be from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE} px, got {input_size}")
    return input_size


def structure_trace(config: ResNetConfig, input_size: int = 224) -> Trace:
    """Trace a structure-only model (no weight initialisation) of ``config``; LRU-cached."""
    check_input_size(input_size)
    key = (config, config.slug, input_size)  # equal structures may carry different names
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    result = trace(build(config, init_weights=False), input_size=input_size)
    with _lock:
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result
