"""Named event presets: how each kind of event runs, and why. Every listener takes one of these.

One bound for the whole app: every heavy queued event is in one concurrency group (``WORK``, part of ``VIEW``
and ``RUN``; ``page.build_demo`` gives those events the slots too), which runs at most ``WORK_SLOTS`` at once, and the off-queue redraw takes the same
slots (``work()``), so no mix of endpoints runs more heavy work at once than the machine has cores for. A
forward pass (feature maps, class maps) is one at a time besides (``FeatureStore``'s own bound).

- ``VIEW``: the queued view bundle: the latest request wins while one is running, and a small progress mark.
- ``QUICK``: the redraw of a new model, off the queue: one HTTP request instead of a join and a stream (~30 ms
  of a ~130 ms redraw) and no progress overlay (painting one over ~20 outputs costs more than the update).
  It waits a little for a work slot (``quick_work()``), and a flood of it gets "busy" at once rather than a
  thread each; an error raised there shows no toast, so its handler shows refusals in the totals instead.
- ``RUN``: a real forward (and backward) pass.
- ``WORK``: any other heavy event (an export, an opened model file).
- ``DATASET``: a dataset run, in its own queue (one at a time) and outside the work slots.
- ``PRIVATE``: UI glue the API does not list.
- ``INSTANT``: client-side echoes (a picker copied into another), which need neither queue nor progress.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

WORK_ID = "work"
WORK_SLOTS = 2  # heavy events at once, queued and off-queue together
_WORK = threading.BoundedSemaphore(WORK_SLOTS)
_QUICK_WAITERS = threading.BoundedSemaphore(2 * WORK_SLOTS)  # off-queue requests that may wait for a slot
QUICK_WAIT_S = 5.0
WORK: dict[str, Any] = dict(concurrency_id=WORK_ID, concurrency_limit=WORK_SLOTS)  # the app's one bound
VIEW: dict[str, Any] = dict(show_progress="minimal", trigger_mode="always_last", **WORK)
QUICK: dict[str, Any] = dict(show_progress="hidden", queue=False, trigger_mode="always_last")
RUN: dict[str, Any] = dict(trigger_mode="always_last", **WORK)
# A dataset run (minutes to hours): a queue of its own, one at a time, outside the work slots, so the views keep
# answering while runs go; the run itself stops when its client goes (resnet_explorer.handlers.dataset).
DATASET_ID = "dataset"
DATASET: dict[str, Any] = dict(concurrency_id=DATASET_ID, concurrency_limit=1)
DOWNLOAD: dict[str, Any] = dict(concurrency_id="download", concurrency_limit=1)  # the network, not the CPU


class Busy(RuntimeError):
    """Every work slot stayed taken: an off-queue request is told so instead of waiting longer."""


def work() -> threading.BoundedSemaphore:
    """The app's work slots, for a queued event's handler (the queue lets at most ``WORK_SLOTS`` in)."""
    return _WORK


@contextmanager
def quick_work() -> Iterator[None]:
    """A work slot for the off-queue redraw: a few may wait a few seconds for one; beyond that, ``Busy``."""
    if not _QUICK_WAITERS.acquire(blocking=False):
        raise Busy("the server is busy; try again in a moment")
    try:
        if not _WORK.acquire(timeout=QUICK_WAIT_S):
            raise Busy("the server is busy; try again in a moment")
        try:
            yield
        finally:
            _WORK.release()
    finally:
        _QUICK_WAITERS.release()
PRIVATE: dict[str, Any] = dict(api_visibility="private")
INSTANT: dict[str, Any] = dict(api_visibility="private", queue=False)


def private(**preset: Any) -> dict[str, Any]:
    """``preset`` (e.g. ``VIEW``) for an event the API does not list."""
    return {**preset, **PRIVATE}
