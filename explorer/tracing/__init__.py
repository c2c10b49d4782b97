"""Tracing: one forward pass recorded as dataflow (``dataflow``), its residual blocks recognised by what they
compute (``residual``, ``layout``), turned into frozen records (``Trace``) that every view reads; ``explain``
says why each addition is or is not a block."""
from __future__ import annotations

import lazy_loader

# Loaded on first use, so the records (and views of them) import without the tracer's torch machinery.
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "cache": ("MIN_INPUT_SIZE", "check_input_size", "check_model_fits", "structure_trace"),
    "device": ("model_device", "resolve_device"),
    "hooks": ("eval_mode", "forward_hooks", "running_on"),
    "identify": ("infer_config", "model_label"),
    "layout": ("ForwardFailed", "Layout", "NotAResNet"),
    "dataflow": ("Recording", "record"),
    "explain": ("AdditionRecord", "Explanation", "explain"),
    "residual": ("find_residuals",),
    "memory": ("measure_memory",),
    "profile": ("MemoryProfile", "PartMemory"),
    "records": ("BlockRecord", "ConvRecord", "DownsampleRecord", "FieldRecord", "LayerRecord", "ModuleRecord", "Shape",
                "StageRecord", "Trace", "format_shape"),
    "tracer": ("find_layout", "trace"),
})
