"""A lock for code that patches torch for the whole process: torchview's ``draw_graph`` replaces
``nn.Module.__call__`` and torch's tensor-creating functions (``torch.zeros``, ``torch.empty``, ...) while it
runs, so torch work in another thread would be recorded into its graph, or break (``'Sequential' object has no
attribute '_modules'``). Torch work holds the lock shared (``forwards()``: every forward the explorer runs, and
every event of the app), a patcher holds it alone (``patching()``). A thread may nest shared holds, and a
thread that holds it shared may patch: it lets go of its share while it waits."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class _SharedLock:
    """Many forwards at once, or one patcher; a waiting patcher lets no new forward start (it is not starved)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting = 0
        self._local = threading.local()

    @contextmanager
    def shared(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            with self._cond:
                while self._writer or self._waiting:
                    self._cond.wait()
                self._readers += 1
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                with self._cond:
                    self._readers -= 1
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        with self._cond:
            if depth:
                self._readers -= 1  # this thread's share, given up while it patches
            self._waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writer = True
        self._local.depth = 0
        try:
            yield
        finally:
            self._local.depth = depth
            with self._cond:
                self._writer = False
                if depth:
                    self._readers += 1
                self._cond.notify_all()


_LOCK = _SharedLock()
forwards = _LOCK.shared
patching = _LOCK.exclusive

__all__ = ["forwards", "patching"]
