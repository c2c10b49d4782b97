"""What every handler shares while the app runs: its settings and the feature store. One explicit object
(``APP``), not module globals: start-up and the tests ``configure`` it."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from explorer.files import prune_to

from . import lib
from .runs import Runs
from .settings import OUTPUT_ROOT, AppSettings, gradio_cache

if TYPE_CHECKING:
    from explorer.features.store import FeatureStore


@dataclass
class AppContext:
    settings: AppSettings = field(default_factory=AppSettings)
    _store: FeatureStore | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tidied: float = -1e9
    runs: Runs = field(default_factory=Runs)  # dataset runs made or opened here, by session

    @property
    def store(self) -> FeatureStore:
        """Models, captures and class-map runs, sized by the limits (made on first use: it needs torch)."""
        with self._lock:
            if self._store is None:
                self._store = lib.FeatureStore(self.settings.limits)
            return self._store

    def tidy_disk(self) -> None:
        """Keep what answers leave on disk (our files, Gradio's copies, cut-off uploads) under the output cache
        limit, oldest first; run after an answer writes files, at most once a second."""
        now = time.monotonic()
        with self._lock:
            if now - self._tidied < 1.0:
                return
            self._tidied = now
        half = self.settings.limits.output_cache_bytes // 2
        prune_to(OUTPUT_ROOT, half)
        prune_to(gradio_cache(), half)

    def use(self, **changes: object) -> None:
        """Change some settings (``explorer.show``'s folder of datasets); the store and what it holds are kept
        unless the limits change."""
        with self._lock:
            settings = replace(self.settings, **changes)
            if settings.limits != self.settings.limits:
                self._store = None
            self.settings = settings

    def configure(self, settings: AppSettings) -> None:
        """Use ``settings`` from now on (flags at start-up; tests); the store is remade for their limits."""
        with self._lock:
            self.settings, self._store = settings, None


APP = AppContext()
