"""Dataset runs as the app keeps them: each belongs to the browser session that made or opened it (another session
can neither list nor open it), its folders are held from pruning while it is listed, its files are read once
(``RunFiles``, checked as data) and kept for the clicks that follow, and the image folder its examples are read
from is one the server vouches for: a ``--datasets`` folder or an upload folder it made itself."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from explorer.dataset.views import RunFiles
from explorer.files import hold, release
from explorer.limits import Limits

RUNS_PER_SESSION = 8  # a session's runs listed at once (the oldest goes, and its folders may then be pruned)
LOADED = 4  # runs whose files are kept read
ARCHIVE_BYTES = 64 * 2**20  # the most any one file of an uploaded run may hold (a --runs folder has no such cap)


@dataclass
class OpenRun:
    """A run listed in a session: where its files are, whose it is, what it may read, how it was made."""

    folder: Path
    owner: str  # the session that made or opened it ("" for the --runs folder's: everyone's)
    images: Path | None  # the image folder its examples come from, vouched for by the server (None: none)
    made: tuple | None = None  # (model, weights, checkpoint) for a run made here
    held: list[Path] = field(default_factory=list)  # folders held from pruning while it is listed
    uploaded: bool = False  # its files came from the browser (then no file of it may be large)


class Runs:
    """Every session's runs by name, and the images folders the server made (uploads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, OpenRun] = OrderedDict()
        self._files: OrderedDict[str, RunFiles] = OrderedDict()
        self._uploads: dict[Path, str] = {}  # upload folders this server made -> the session that uploaded

    def add(self, name: str, run: OpenRun) -> None:
        for folder in run.held:
            hold(folder)
        with self._lock:
            self._runs[name] = run
            mine = [n for n, r in self._runs.items() if r.owner == run.owner]
            dropped = [self._runs.pop(n) for n in mine[:-RUNS_PER_SESSION]]
            for n in mine[:-RUNS_PER_SESSION]:
                self._files.pop(n, None)
        for old in dropped:
            for folder in old.held:
                release(folder)

    def names(self, session: str) -> list[str]:
        with self._lock:
            return [n for n, r in self._runs.items() if r.owner == session]

    def get(self, name: str, session: str) -> OpenRun | None:
        """The run, when ``session`` may see it (its own, or the --runs folder's)."""
        with self._lock:
            run = self._runs.get(name)
        return run if run is not None and run.owner in (session, "") else None

    def files(self, name: str, run: OpenRun, limits: Limits) -> RunFiles:
        """The run's files, read (and checked) once."""
        with self._lock:
            if name in self._files:
                self._files.move_to_end(name)
                return self._files[name]
        files = RunFiles.load(run.folder, limits, images=run.images, max_bytes=ARCHIVE_BYTES if run.uploaded else None)
        with self._lock:
            self._files[name] = files
            while len(self._files) > LOADED:
                self._files.popitem(last=False)
        return files

    def uploaded(self, folder: Path, session: str) -> None:
        """An upload folder the server made for ``session`` (a run's examples may be read from it, by it)."""
        with self._lock:
            self._uploads[folder.resolve()] = session

    def upload_folders(self, session: str) -> set[Path]:
        with self._lock:
            return {f for f, owner in self._uploads.items() if owner == session}

    def forget(self, name: str) -> None:
        """Drop a run (its --runs entry is made again when it is opened again)."""
        with self._lock:
            run = self._runs.pop(name, None)
            self._files.pop(name, None)
        for folder in run.held if run else ():
            release(folder)

    def __contains__(self, name: Any) -> bool:
        with self._lock:
            return name in self._runs

    def __getitem__(self, name: str) -> OpenRun:
        with self._lock:
            return self._runs[name]

    def __iter__(self):  # noqa: ANN204 - names, for the tests
        with self._lock:
            return iter(list(self._runs))


class Stopped(Exception):
    """The run's client went away (or cancelled it): the run stops at its next batch."""


def client_alive() -> Callable[[], bool]:
    """Whether the request running this handler still has its client. Gradio marks a queued event dead when
    its session's stream closes or it is cancelled (``Queue.clean_events``); a thread it started runs on, so a
    long run asks at every batch. Always alive outside a queued event."""
    from gradio.context import LocalContext

    blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
    queue = getattr(blocks, "_queue", None)
    if queue is None or event_id is None:
        return lambda: True

    def alive() -> bool:
        for jobs in list(queue.active_jobs):
            for event in jobs or ():
                if getattr(event, "_id", None) == event_id:
                    return bool(event.alive)
        return True

    return alive


def vouched(root: str | Path | None, datasets: Path | None, uploads: set[Path]) -> Path | None:
    """``root`` when it is the ``--datasets`` folder, a folder inside it, or an upload folder this server made;
    else None. A run's own record of where it read its images is never followed by itself."""
    if not root:
        return None
    try:
        path = Path(root).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    allowed = [*([Path(datasets).resolve()] if datasets else []), *uploads]
    return path if any(path == a or a in path.parents for a in allowed) and path.is_dir() else None


__all__ = ["ARCHIVE_BYTES", "OpenRun", "Runs", "Stopped", "client_alive", "vouched"]
