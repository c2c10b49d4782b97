"""Named event presets: how each kind of event runs, and why. Every listener takes one of these.

- ``VIEW``: the queued view bundle. At most two at a time (a view is CPU work and the machine may have two
  cores), the latest request wins while one is running, and a small progress mark.
- ``QUICK``: the redraw of a new model, off the queue: one HTTP request instead of a join and a stream (~30 ms
  of a ~130 ms redraw) and no progress overlay (painting one over ~20 outputs costs more than the update).
  Off the queue nothing bounds it, so ``REDRAW_SLOTS`` keeps it to two at a time, as the queue would; and an
  error raised there shows no toast, so its handler shows refusals in the totals instead.
- ``RUN``: a real forward (and backward) pass: one at a time, since one pass already uses every core.
- ``PRIVATE``: UI glue the API does not list.
- ``INSTANT``: client-side echoes (a picker copied into another), which need neither queue nor progress.
"""
from __future__ import annotations

import threading
from typing import Any

VIEW: dict[str, Any] = dict(concurrency_limit=2, show_progress="minimal", trigger_mode="always_last")
QUICK: dict[str, Any] = dict(show_progress="hidden", queue=False, trigger_mode="always_last")
REDRAW_SLOTS = threading.BoundedSemaphore(2)
RUN: dict[str, Any] = dict(concurrency_limit=1, trigger_mode="always_last")
PRIVATE: dict[str, Any] = dict(api_visibility="private")
INSTANT: dict[str, Any] = dict(api_visibility="private", queue=False)


def private(**preset: Any) -> dict[str, Any]:
    """``preset`` (e.g. ``VIEW``) for an event the API does not list."""
    return {**preset, **PRIVATE}
