"""Memory as a view: weights, the inference peak and training activations per block, stage and in total,
from a trace's ``MemoryProfile`` at any batch size (no forward pass: scaling and sums only)."""
from __future__ import annotations

from typing import Any

from ..limits import format_bytes
from ..tracing.profile import MemoryProfile, PartMemory, totals
from ..tracing.records import Trace

MEMORY_COLUMNS = ("part", "weights fp32", "weights fp16/bf16", "inference peak", "training activations")
MAX_BATCH = 65536


def check_batch(batch: Any) -> int:
    if isinstance(batch, float) and batch == batch and abs(batch) != float("inf") and batch == int(batch):
        batch = int(batch)  # UI numbers arrive as floats
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch size must be a whole number from 1 to {MAX_BATCH}, got {batch!r}")
    return batch


def profile(trace: Trace) -> MemoryProfile:
    if trace.memory is None:
        raise ValueError("this trace has no memory profile: trace with memory=True (structure traces always do)")
    return trace.memory


def _groups(trace: Trace) -> list[tuple[str, list[PartMemory]]]:
    """(name, parts) for the stem, each stage and the head."""
    prof = profile(trace)
    stages = [(s.name, [prof.part(b.name) for b in trace.blocks if b.stage == s.stage]) for s in trace.stages]
    return [("stem", [prof.part("stem")]), *stages, ("head", [prof.part("head")])]


def memory_dict(trace: Trace, batch: int = 1) -> dict[str, Any]:
    """Totals, per stage and per block (``summary --json``'s ``memory``); bytes, at ``batch`` images."""
    d = profile(trace).to_dict(check_batch(batch))
    return {**d, "input_shape": list(trace.input_shape),
            "stages": [{"name": name, **totals(parts, batch)} for name, parts in _groups(trace)]}


def _row(name: str, numbers: dict[str, int]) -> list[str]:
    return [name, *(format_bytes(numbers[k]) for k in
                    ("weights_bytes", "weights_half_bytes", "inference_peak_bytes", "training_activations_bytes"))]


def memory_rows(trace: Trace, batch: int = 1) -> list[list[str]]:
    """MEMORY_COLUMNS rows: the stem, each stage, the head, then the total."""
    d = memory_dict(trace, batch)
    return [*(_row(s["name"], s) for s in d["stages"]), _row("total", d)]


def memory_markdown(trace: Trace, batch: int = 1) -> str:
    d = memory_dict(trace, batch)
    images = f"{batch} image{'s' if batch > 1 else ''}"
    return (f"**Memory** ({images} of {'×'.join(map(str, trace.input_shape))}): weights "
            f"{format_bytes(d['weights_bytes'])} fp32 ({format_bytes(d['weights_half_bytes'])} fp16/bf16) · "
            f"inference peak {format_bytes(d['inference_peak_bytes'])} · "
            f"training activations {format_bytes(d['training_activations_bytes'])}")


__all__ = ["MEMORY_COLUMNS", "check_batch", "format_bytes", "memory_dict", "memory_markdown",
           "memory_rows"]
