"""Hook-based tracing and analysis of ResNets; no UI imports, so it works as a library and a CLI."""
from .hooks import eval_mode, forward_hooks
from .records import BlockRecord, ConvRecord, DownsampleRecord, ModuleRecord, StageRecord, Trace, format_shape
from .structure import MAX_INPUT_SIZE, MIN_INPUT_SIZE, structure_trace
from .table import BLOCK_COLUMNS, STAGE_COLUMNS, block_rows, format_table, stage_rows, totals, totals_markdown
from .tracer import resolve_device, trace
from . import limits

limits.apply(limits.from_env())

__all__ = [
    "BLOCK_COLUMNS", "BlockRecord", "ConvRecord", "DownsampleRecord", "MAX_INPUT_SIZE", "MIN_INPUT_SIZE", "ModuleRecord",
    "STAGE_COLUMNS", "StageRecord", "Trace", "block_rows", "eval_mode", "format_shape", "format_table", "forward_hooks",
    "resolve_device", "stage_rows", "structure_trace", "totals", "totals_markdown", "trace",
]
