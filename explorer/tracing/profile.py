"""What a model needs in memory, as records: per part, with totals for any batch size and weight dtype.

``memory.py`` measures them (torch, the meta device); these records need no torch, so every view of them can
be imported without it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

HALF_BYTES = 2  # fp16 and bf16


@dataclass(frozen=True)
class PartMemory:
    """One part's memory, per sample where it scales with the batch."""

    name: str  # "stem", "layer2.0", "head"
    weight_bytes: int  # parameters and buffers at their own dtype (fp32)
    half_weight_bytes: int  # the same in fp16/bf16 (integer buffers keep their size)
    inference_peak: int  # per sample: the most live activation bytes while this part runs (input included)
    saved: int  # per sample: activation bytes autograd saves for backward, first saved in this part
    saved_fixed: int  # bytes saved whatever the batch (BatchNorm's batch statistics)

    def weights(self, dtype: str = "fp32") -> int:
        return self.weight_bytes if dtype == "fp32" else self.half_weight_bytes

    def training(self, batch: int = 1) -> int:
        return batch * self.saved + self.saved_fixed


@dataclass(frozen=True)
class MemoryProfile:
    """Every part's memory at one input size; totals for any batch size."""

    parts: tuple[PartMemory, ...]

    def part(self, name: str) -> PartMemory:
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(f"no part named {name!r}")

    def weights_bytes(self, dtype: str = "fp32") -> int:
        return totals(self.parts)["weights_bytes" if dtype == "fp32" else "weights_half_bytes"]

    def inference_peak_bytes(self, batch: int = 1) -> int:
        return totals(self.parts, batch)["inference_peak_bytes"]

    def training_activations_bytes(self, batch: int = 1) -> int:
        return totals(self.parts, batch)["training_activations_bytes"]

    def to_dict(self, batch: int = 1) -> dict[str, Any]:
        """Totals and every part, in bytes, for ``batch`` images (JSON-ready)."""
        return {"batch_size": batch, **totals(self.parts, batch),
                "parts": [{"name": p.name, **totals((p,), batch)} for p in self.parts]}


def totals(parts: Iterable[PartMemory], batch: int = 1) -> dict[str, int]:
    """Weights (fp32, fp16/bf16) and training activations add up over ``parts``; their inference peak is the
    highest of theirs (every activation has a batch dimension in inference, so it scales exactly)."""
    parts = tuple(parts)
    return {
        "weights_bytes": sum(p.weights("fp32") for p in parts),
        "weights_half_bytes": sum(p.weights("fp16") for p in parts),
        "inference_peak_bytes": batch * max(p.inference_peak for p in parts),
        "training_activations_bytes": sum(p.training(batch) for p in parts),
    }
