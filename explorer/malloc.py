"""glibc malloc settings for a process that runs the same forward passes again and again.

By default glibc hands activations of a few MiB back to the kernel as soon as they are freed (mmap
threshold, heap trimming), so every later pass touches fresh pages: thousands of page faults per
ResNet-50 capture, which keeps each block's output, about 8% of the forward itself. Keeping freed memory
in the heap makes repeated passes reuse pages already mapped. Two arenas keep a threaded server's memory
on a plateau (every worker thread would otherwise keep its own heap of freed activations).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

# mallopt parameter numbers (malloc.h) and the values used.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
SETTINGS = {
    "MALLOC_ARENA_MAX": (_M_ARENA_MAX, 2),
    "MALLOC_MMAP_THRESHOLD_": (_M_MMAP_THRESHOLD, 64 * 2**20),  # larger blocks (huge uploads) still get mmap
    "MALLOC_TRIM_THRESHOLD_": (_M_TRIM_THRESHOLD, 256 * 2**20),  # free memory kept before returning it
}


def tune() -> bool:
    """Apply the settings to this process now (each one the environment does not set already).

    Returns False where the C library has no ``mallopt`` (not glibc): nothing changes there. Call it early,
    before worker threads start, so the arena limit covers them.
    """
    path = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(path).mallopt if path else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return False
    return all(mallopt(param, value) == 1 for env, (param, value) in SETTINGS.items() if env not in os.environ)
