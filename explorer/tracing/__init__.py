"""Tracing: forward hooks turn one pass of a model into frozen records (``Trace``) that every view reads."""
from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, so the records (and views of them) import without the tracer's torch machinery.
_MODULES = {
    "cache": ("MIN_INPUT_SIZE", "check_input_size", "check_model_fits", "structure_trace"),
    "device": ("model_device", "resolve_device"),
    "hooks": ("eval_mode", "forward_hooks", "running_on"),
    "identify": ("infer_config", "model_label"),
    "layout": ("Layout", "NotAResNet", "find_layout"),
    "memory": ("measure_memory",),
    "profile": ("MemoryProfile", "PartMemory"),
    "records": ("BlockRecord", "ConvRecord", "DownsampleRecord", "LayerRecord", "ModuleRecord", "Shape",
                "StageRecord", "Trace", "format_shape"),
    "tracer": ("trace",),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BlockRecord", "ConvRecord", "DownsampleRecord", "LayerRecord", "Layout", "MIN_INPUT_SIZE", "NotAResNet", "MemoryProfile", "ModuleRecord",
    "PartMemory", "Shape", "StageRecord", "Trace", "check_input_size", "check_model_fits", "eval_mode", "find_layout", "format_shape", "forward_hooks", "infer_config", "measure_memory",
    "model_device", "model_label", "resolve_device", "running_on", "structure_trace", "trace",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'explorer.tracing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
