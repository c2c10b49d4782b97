"""A run's progress on disk: the shards done so far merged in shard order into one tally, saved under
``--out/partials`` every few seconds (and when the run stops), so the same command after an interruption
continues from it.

One merged tally, not a file per shard: a shard's partials are as large as the whole run's (every channel's
top-k), ~5 MB for ResNet-50, so a file per shard of 16 would leave ImageNet-val 17 GB of them. Shards that
finish out of order (the Ray engine) wait in memory until the shards before them are in, and are saved as
files of their own only while they wait.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import atomic
from ..lesion.partial import LesionPartial
from .stats import FIELDS, Partial

TALLY = "tally.npz"


@dataclass
class ShardResult:
    """What shards give: every block's channels in one ``Partial`` (None: no readable image), how many
    channels each block has, the images used and skipped (index, why), and a lesion study's partial."""

    part: Partial | None = None
    channels: list[int] | None = None
    used: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    lesion: LesionPartial | None = None

    @staticmethod
    def of(blocks: list[str], parts: dict[str, Partial], used: int, skipped: list[tuple[int, str]],
           lesion: LesionPartial | None = None) -> ShardResult:
        if not parts:
            return ShardResult(None, None, used, list(skipped), lesion)
        missing = [b for b in blocks if b not in parts]
        if missing:
            raise RuntimeError(f"the forward made no output for {', '.join(missing)}")
        return ShardResult(Partial.join([parts[b] for b in blocks]), [len(parts[b].sum) for b in blocks], used,
                           list(skipped), lesion)

    def then(self, later: ShardResult, k: int) -> ShardResult:
        """This, then ``later`` (its images after these)."""
        part = later.part if self.part is None else self.part if later.part is None else self.part.merge(later.part, k)
        lesion = (later.lesion if self.lesion is None else self.lesion if later.lesion is None
                  else self.lesion.merge(later.lesion))
        return ShardResult(part, self.channels or later.channels, self.used + later.used,
                           self.skipped + later.skipped, lesion)

    def pack(self, **extra: int) -> bytes:
        """As .npz bytes (plain arrays: read back without pickle)."""
        arrays: dict[str, np.ndarray] = {"used": np.asarray(self.used, dtype=np.int64),
                                         "skip_index": np.asarray([i for i, _ in self.skipped], dtype=np.int64),
                                         "skip_reason": np.asarray([r for _, r in self.skipped], dtype=str),
                                         **{name: np.asarray(v, dtype=np.int64) for name, v in extra.items()}}
        if self.part is not None:
            arrays["channels"] = np.asarray(self.channels, dtype=np.int64)
            arrays.update(self.part.arrays())
        if self.lesion is not None:
            arrays.update({f"lesion_{f}": a for f, a in self.lesion.arrays().items()})
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @staticmethod
    def unpack(data: bytes) -> tuple[ShardResult, dict[str, int]]:
        """The result, and the whole numbers packed beside it."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            part = Partial(*(z[f] for f in FIELDS)) if "channels" in z.files else None
            lesion = (LesionPartial(*(z[f"lesion_{f}"] for f in LesionPartial.__dataclass_fields__))
                      if "lesion_images" in z.files else None)
            known = {"used", "skip_index", "skip_reason", "channels", *FIELDS}
            extra = {f: int(z[f]) for f in z.files if f not in known and not f.startswith("lesion_")}
            return ShardResult(part, z["channels"].tolist() if part is not None else None, int(z["used"]),
                               list(zip(z["skip_index"].tolist(), z["skip_reason"].tolist())), lesion), extra


class Tally:
    """The shards merged so far (0 … ``next`` − 1, in order), and those done after a gap, waiting."""

    def __init__(self, out: Path, k: int, every: float = 10.0) -> None:
        self.folder, self.k, self.every, self.least = out / "partials", k, every, every
        self.merged, self.next, self.waiting = ShardResult(), 0, {}
        self.saved_at = time.monotonic()
        path = self.folder / TALLY
        if path.exists():
            self.merged, extra = ShardResult.unpack(path.read_bytes())
            self.next = extra["next"]
        for file in self.folder.glob("shard_*.npz"):
            index = int(file.stem.split("_")[1])
            if index >= self.next:
                self.waiting[index] = ShardResult.unpack(file.read_bytes())[0]
            else:  # merged before the run stopped, and not yet removed
                file.unlink(missing_ok=True)

    def done(self, index: int) -> bool:
        return index < self.next or index in self.waiting

    def add(self, index: int, result: ShardResult) -> None:
        if self.done(index):  # (a shard given twice: a retried task's)
            return
        self.waiting[index] = result
        while self.next in self.waiting:
            self.merged = self.merged.then(self.waiting.pop(self.next), self.k)
            self.next += 1
        if time.monotonic() - self.saved_at >= self.every:
            self.save()

    def save(self) -> None:
        """The merged shards as one file, then those waiting as files of their own (removed once merged).
        Saved at most every 10 s, or 20 times as long as a save took (a large top-k: never 5 % of a run)."""
        began = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic(self.folder / TALLY, self.merged.pack(next=self.next))
        for index, result in self.waiting.items():
            path = self.folder / f"shard_{index:06d}.npz"
            if not path.exists():
                atomic(path, result.pack())
        for file in self.folder.glob("shard_*.npz"):
            if int(file.stem.split("_")[1]) not in self.waiting:
                file.unlink(missing_ok=True)
        self.saved_at = time.monotonic()
        self.every = max(self.least, 20 * (self.saved_at - began))


__all__ = ["ShardResult", "TALLY", "Tally"]
