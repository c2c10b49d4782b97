"""Output files: for a server, each response gets a fresh private folder under a root, and old folders go; for a
long job (a dataset run, an atlas), its folder claimed by a manifest and written atomically, so it can resume."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MAX_AGE_S = 3600


def atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` is either its old contents or all of the new ones."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def claim(out: Path, wanted: dict, inner: str, refused: type[Exception] = ValueError, what: str = "a run") -> None:
    """Take ``out`` for a job that keeps its progress in ``out / inner``, named by ``manifest.json``: an
    interrupted run of the same job is continued, another job's folder refused (``refused``, one line)."""
    path = out / "manifest.json"
    if path.exists():
        found = json.loads(path.read_text())
        if found != wanted:
            differs = [k for k in wanted if found.get(k) != wanted[k]]
            raise refused(f"{out.name} holds {what} with another {', '.join(differs)} ({found.get('model')}); use "
                          "another --out, or empty it")
        return
    (out / inner).mkdir(parents=True, exist_ok=True)
    atomic(path, json.dumps(wanted, indent=1).encode())
_HELD: dict[Path, int] = {}  # folders that are in use (a run going, a run listed): never pruned
_HELD_LOCK = threading.Lock()


@contextmanager
def holding(folder: str | Path) -> Iterator[Path]:
    """Keep ``folder`` from being pruned while the block runs (a dataset run that takes hours)."""
    path = hold(folder)
    try:
        yield path
    finally:
        release(path)


def hold(folder: str | Path) -> Path:
    """Keep ``folder`` from being pruned until ``release``; holds nest."""
    path = Path(folder).resolve()
    with _HELD_LOCK:
        _HELD[path] = _HELD.get(path, 0) + 1
    return path


def release(folder: str | Path) -> None:
    path = Path(folder).resolve()
    with _HELD_LOCK:
        if _HELD.get(path, 0) <= 1:
            _HELD.pop(path, None)
        else:
            _HELD[path] -= 1


def is_held(path: Path) -> bool:
    """Whether ``path`` is a held folder, inside one, or holds one."""
    try:
        path = path.resolve()
    except OSError:
        return False
    with _HELD_LOCK:
        return any(path == h or h in path.parents or path in h.parents for h in _HELD)


def prune(root: Path, max_age_s: float = MAX_AGE_S) -> None:
    """Remove folders under ``root`` older than ``max_age_s``, so temporary files do not pile up (but for the
    held ones)."""
    now = time.time()
    for old in root.iterdir() if root.is_dir() else ():
        try:
            if old.is_dir() and now - old.stat().st_mtime > max_age_s and not is_held(old):
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def display_name(name: str, limit: int = 80) -> str:
    """A file name fit to show and to put in a spec: letters, digits and ``._+-`` kept, anything else (markup,
    spaces, characters that reorder text) one ``_``; at most ``limit`` characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_") or "file"
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + "…"


def prune_to(root: str | Path, max_bytes: int, keep_s: float = 5.0) -> int:
    """Remove the oldest files under ``root`` until they take at most ``max_bytes`` (files written in the last
    ``keep_s`` seconds stay: an answer may still be on its way); empty folders go too. Returns the bytes left.
    Also catches what a cut-off upload left behind. Held folders are never touched, nor counted."""
    root = Path(root)
    if not root.is_dir():
        return 0
    files = []
    for f in root.rglob("*"):
        try:
            if f.is_file() and not f.is_symlink() and not is_held(f.parent):
                st = f.stat()
                files.append((st.st_mtime, st.st_size, f))
        except OSError:
            continue
    total = sum(size for _, size, _ in files)
    now = time.time()
    for mtime, size, f in sorted(files, key=lambda x: x[0]):
        if total <= max_bytes or now - mtime < keep_s:
            break
        try:
            f.unlink()
            total -= size
        except OSError:
            pass
    for d in sorted((d for d in root.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
        try:
            d.rmdir()  # only when empty
        except OSError:
            pass
    return total


def fresh_folder(root: str | Path | None = None) -> Path:
    """A new private folder (under ``root`` when given, after pruning it) for one response's files."""
    if root is None:
        return Path(tempfile.mkdtemp(prefix="resnet-explorer-"))
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    prune(root)
    return Path(tempfile.mkdtemp(dir=root))
