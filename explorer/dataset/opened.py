"""A finished run's files read back as data, never as instructions: every file measured before it is read,
``summary.json`` checked field by field (types, the preprocessing a new run would be allowed, no path taken
from it), every CSV row checked (its block one of the summary's, its numbers numbers) and the rows bounded by
blocks × channels × top-k. What the server then follows (the image folder, the weights) it decides itself:
``RunFiles.images`` is None unless the caller vouches for a folder."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Callable, Iterator

from ..files import display_name
from ..lesion.study import DRAW_COLUMNS, LESION_COLUMNS
from ..limits import DEFAULT_LIMITS, Limits
from .folder import DatasetError, preprocessing
from .stats import CHANNEL_COLUMNS, TOP_COLUMNS

MAX_CHANNELS = 16_384  # per block: the widest ResNet block has 2,048 (4,096 for the widest timm ones)
MAX_BLOCKS = 4_096
MAX_SKIPPED = 10_000  # skipped images listed in a summary (a run has at most --limit images)
MAX_SUMMARY_BYTES = 8 * 2**20
MAX_TEXT = 500  # characters in any text field of a summary (a model spec, a reason)


def _fail(name: str, what: str) -> DatasetError:
    return DatasetError(f"this run's {name} {what} (as `python -m explorer dataset` writes it)")


def _number(raw: dict, key: str, kind: type, low: float = 0, optional: bool = False) -> Any:
    value = raw.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (kind is int and value != int(value)) or value < low:
        raise _fail("summary.json", f"needs {key!r} as {'a whole number' if kind is int else 'a number'} of at "
                                    f"least {low:g}")
    return kind(value)


def _text(raw: dict, key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise _fail("summary.json", f"needs {key!r} as text")
    return value[:MAX_TEXT]


def _texts(raw: dict, key: str, limit: int) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or len(value) > limit or not all(isinstance(v, str) for v in value):
        raise _fail("summary.json", f"needs {key!r} as a list of at most {limit:,} names")
    return [v[:MAX_TEXT] for v in value]


def check_summary(raw: Any, limits: Limits = DEFAULT_LIMITS) -> dict:
    """The summary's fields a view uses, each checked; its preprocessing within the limits a new run has. The
    paths it names (``root``, ``weights_file``) are kept as text, for the caller to vouch for or not."""
    if not isinstance(raw, dict):
        raise _fail("summary.json", "is not a JSON object")
    pre = raw.get("preprocessing")
    if not isinstance(pre, dict):
        raise _fail("summary.json", "needs 'preprocessing' (resize_size, crop_size, mean, std)")
    sizes = {k: _number(pre, k, int, 1) for k in ("resize_size", "crop_size")}
    mean, std = pre.get("mean"), pre.get("std")
    if not all(isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                           and math.isfinite(x) for x in v) for v in (mean, std)):
        raise _fail("summary.json", "needs the preprocessing's mean and std as numbers")
    checked = preprocessing(sizes["resize_size"], sizes["crop_size"], tuple(mean), tuple(std), limits=limits)
    skipped = raw.get("skipped", [])
    if not isinstance(skipped, list) or len(skipped) > MAX_SKIPPED or not all(
            isinstance(s, dict) and isinstance(s.get("file"), str) and isinstance(s.get("reason", ""), str)
            for s in skipped):
        raise _fail("summary.json", f"needs 'skipped' as a list of at most {MAX_SKIPPED:,} files and reasons")
    out = {
        "model": _text(raw, "model"), "weights": _text(raw, "weights"), "folder": display_name(_text(raw, "folder", "")),
        "top_k": _number(raw, "top_k", int, 1), "batch_size": _number(raw, "batch_size", int, 1, optional=True),
        "images": _number(raw, "images", int), "images_used": _number(raw, "images_used", int),
        "classes": _texts(raw, "classes", MAX_CHANNELS), "blocks": _texts(raw, "blocks", MAX_BLOCKS),
        "skipped": [{"file": s["file"][:MAX_TEXT], "reason": s.get("reason", "")[:MAX_TEXT]} for s in skipped],
        "preprocessing": {"resize_size": checked.resize_size, "crop_size": checked.crop_size,
                          "mean": list(checked.mean), "std": list(checked.std)} if checked else pre,
        "root": raw.get("root") if isinstance(raw.get("root"), str) else "",
        "weights_file": raw.get("weights_file") if isinstance(raw.get("weights_file"), str) else None,
    }
    if out["top_k"] > 1000:
        raise _fail("summary.json", "has a top-k over 1,000 (the most a run keeps)")
    if not out["blocks"]:
        raise _fail("summary.json", "names no blocks")
    if "lesion" in raw:
        lesion = raw["lesion"]
        if not isinstance(lesion, dict):
            raise _fail("summary.json", "needs 'lesion' as an object")
        out["lesion"] = {"remove_k": _number(lesion, "remove_k", int), "repeats": _number(lesion, "repeats", int),
                         "seed": _number(lesion, "seed", int), "pool": _text(lesion, "pool", "all")}
        out["accuracy"] = _number(raw, "accuracy", float, optional=True)
        out["labelled"] = _number(raw, "labelled", int, optional=True) or 0
        out["labels"] = _text(raw, "labels", "")
    return out


def read_summary(path: Path, limits: Limits = DEFAULT_LIMITS) -> dict:
    if path.stat().st_size > MAX_SUMMARY_BYTES:
        raise _fail("summary.json", f"is over {MAX_SUMMARY_BYTES // 2**20} MiB")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _fail("summary.json", "is not readable JSON") from None
    return check_summary(raw, limits)


def read_table(path: Path, columns: tuple[str, ...] | list[str], max_rows: int,
               check: Callable[[dict], None] | None = None, max_bytes: int | None = None) -> Iterator[dict]:
    """A CSV's rows as dicts, its header the expected one, at most ``max_rows`` rows (and ``max_bytes``), each
    row checked by ``check`` (a bad cell: ``ValueError``) as it is read."""
    name = path.name
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise _fail(name, f"is over {max_bytes / 2**20:,.0f} MiB; open such a run from a folder the server offers "
                          "(--runs)")
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.DictReader(f)
        if list(reader.fieldnames or []) != list(columns):
            raise _fail(name, f"needs the columns {', '.join(columns)}")
        for n, row in enumerate(reader, start=1):
            if n > max_rows:
                raise _fail(name, f"has over {max_rows:,} rows, more than its summary's blocks, channels and top-k "
                                  "can make")
            if None in row or any(v is None for v in row.values()):
                raise _fail(name, f"row {n} does not have {len(columns)} cells")
            try:
                if check:
                    check(row)
            except (ValueError, KeyError) as exc:
                raise _fail(name, f"row {n}: {exc}") from None
            yield row


def _whole(row: dict, *keys: str) -> None:
    for k in keys:
        if not row[k].isdigit():
            raise ValueError(f"{k} is not a whole number")


def _real(row: dict, *keys: str) -> None:
    for k in keys:
        float(row[k])  # (ValueError names the text)


def channel_rows(path: Path, blocks: list[str], max_bytes: int | None = None) -> dict[str, list[dict]]:
    known = set(blocks)

    def check(row: dict) -> None:
        if row["block"] not in known:
            raise ValueError("its block is not one of the summary's")
        _whole(row, "channel")
        _real(row, "mean", "std", "max", "active_fraction")
        if row["dead"] not in ("True", "False"):
            raise ValueError("dead is not True or False")

    out: dict[str, list[dict]] = {}
    for row in read_table(path, CHANNEL_COLUMNS, len(blocks) * MAX_CHANNELS, check, max_bytes):
        out.setdefault(row["block"], []).append(row)
    return out


def top_rows(path: Path, channels: dict[str, list[dict]], top_k: int, max_bytes: int | None = None
             ) -> dict[str, list[dict]]:
    def check(row: dict) -> None:
        if row["block"] not in channels:
            raise ValueError("its block is not one of the summary's")
        _whole(row, "channel", "rank", "y", "x")
        _real(row, "value")

    out: dict[str, list[dict]] = {}
    bound = sum(len(rows) for rows in channels.values()) * top_k
    for row in read_table(path, TOP_COLUMNS, bound, check, max_bytes):
        out.setdefault(row["block"], []).append(row)
    return out


def lesion_tables(folder: Path, blocks: list[str], max_bytes: int | None = None) -> tuple[list[dict], list[dict]]:
    """lesion.csv (a row per block) and lesion_k.csv, where the run has them."""
    def numbers(*keys: str) -> Callable[[dict], None]:
        return lambda row: [float(row[k]) for k in keys if row[k] != ""] and None

    lesion = list(read_table(folder / "lesion.csv", LESION_COLUMNS, len(blocks), numbers("agreement", "kl", "ratio",
                                                                                          "accuracy"), max_bytes)) \
        if (folder / "lesion.csv").is_file() else []
    draws = list(read_table(folder / "lesion_k.csv", DRAW_COLUMNS, 1_000_000, numbers("k", "draw", "agreement", "kl",
                                                                                       "accuracy"), max_bytes)) \
        if (folder / "lesion_k.csv").is_file() else []
    return lesion, draws


def image_path(root: Path, name: str) -> Path | None:
    """``root / name`` when it is a file inside ``root`` (no ``..``, no absolute name, no link out of it)."""
    if not name or name.startswith(("/", "\\")) or ".." in Path(name).parts or "\\" in name:
        return None
    try:
        path = (root / name).resolve()
        return path if path.is_relative_to(root.resolve()) and path.is_file() else None
    except (OSError, ValueError):
        return None


__all__ = ["MAX_CHANNELS", "channel_rows", "check_summary", "image_path", "lesion_tables", "read_summary",
           "read_table", "top_rows"]
