"""Output files for a server: each response gets a fresh private folder under a root, and old folders go."""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

MAX_AGE_S = 3600


def prune(root: Path, max_age_s: float = MAX_AGE_S) -> None:
    """Remove folders under ``root`` older than ``max_age_s``, so temporary files do not pile up."""
    now = time.time()
    for old in root.iterdir() if root.is_dir() else ():
        try:
            if old.is_dir() and now - old.stat().st_mtime > max_age_s:
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
    Also catches what a cut-off upload left behind."""
    root = Path(root)
    if not root.is_dir():
        return 0
    files = []
    for f in root.rglob("*"):
        try:
            if f.is_file() and not f.is_symlink():
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
