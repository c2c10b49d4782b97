"""Output files for a server: each response gets a fresh private folder under a root, and old folders go."""
from __future__ import annotations

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


def fresh_folder(root: str | Path | None = None) -> Path:
    """A new private folder (under ``root`` when given, after pruning it) for one response's files."""
    if root is None:
        return Path(tempfile.mkdtemp(prefix="resnet-explorer-"))
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    prune(root)
    return Path(tempfile.mkdtemp(dir=root))
