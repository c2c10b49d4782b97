"""The torch side of the UI, as one namespace loaded on first use: ``lib.structure_trace(...)``.

The page is served before torch is imported (it takes seconds); ``load()`` imports all of this right after, and
a request that comes first imports what it touches (under one lock, so two first requests cannot meet a
half-imported module). Every name the handlers take from the torch side is listed here, nowhere else.
"""
from __future__ import annotations

import importlib
import threading
from typing import Any

SOURCES: dict[str, tuple[str, ...]] = {
    "explorer.features.cam": ("check_method", "parse_target"),
    "explorer.features.cam_views": ("RANDOM_CAM_NOTICE", "cam_figure", "cam_overlay", "cam_strip"),
    "explorer.features.store": ("RANDOM_NOTICE", "Expired", "FeatureStore"),
    "explorer.features.views": ("PNG_LEVEL", "block_facts", "channel_grid", "channel_zoom_figure", "default_block",
                                "grid_channel", "label_names", "network_figure", "overlay", "read_labels", "top5",
                                "top_channels"),
    "explorer.graph.export": ("check_graph_options", "export_bytes", "rendered", "write_export"),
    "explorer.models": ("meta_model", "own_classes"),
    "explorer.structure.analysis": ("receptive_fields",),
    "explorer.structure.figures": ("highlight_block", "memory_figure"),
    "explorer.structure.inspector": ("inspect_block", "inspection_markdown"),
    "explorer.structure.views": ("compare_views", "structure_views", "warm_presets"),
    "explorer.tracing": ("ForwardFailed", "NotAResNet", "resolve_device", "structure_trace"),
    "explorer.visualize": ("Cancelled", "Settings", "check", "visualize"),
    "explorer.visualize.kept": ("Kept",),
    "resnet": ("CheckpointError", "find_cached"),
    "resnet.download": ("DownloadError", "download", "state_size"),
}
_HOME = {name: module for module, names in SOURCES.items() for name in names}
_LOCK = threading.RLock()


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"resnet_explorer.lib has no {name!r}: add it to resnet_explorer.lib.SOURCES")
    with _LOCK:
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def load() -> None:
    """Import every module above now (after the page is served)."""
    for name in _HOME:
        __getattr__(name)


def __dir__() -> list[str]:
    return sorted([*_HOME, "SOURCES", "load"])
