"""Tracing: forward hooks turn one pass of a model into frozen records (``Trace``) that every view reads."""
from .cache import MIN_INPUT_SIZE, check_input_size, check_model_fits, structure_trace
from .device import model_device, resolve_device
from .hooks import eval_mode, forward_hooks, running_on
from .identify import infer_config, model_label
from .layout import Layout, NotAResNet, find_layout
from .memory import MemoryProfile, PartMemory, measure_memory
from .records import (BlockRecord, ConvRecord, DownsampleRecord, LayerRecord, ModuleRecord, Shape, StageRecord, Trace,
                      format_shape)
from .tracer import trace

__all__ = [
    "BlockRecord", "ConvRecord", "DownsampleRecord", "LayerRecord", "Layout", "MIN_INPUT_SIZE", "NotAResNet", "MemoryProfile", "ModuleRecord",
    "PartMemory", "Shape", "StageRecord", "Trace", "check_input_size", "check_model_fits", "eval_mode", "find_layout", "format_shape", "forward_hooks", "infer_config", "measure_memory",
    "model_device", "model_label", "resolve_device", "running_on", "structure_trace", "trace",
]
