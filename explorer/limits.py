"""Every resource limit as one value: documented defaults, overridable by environment variables
(``RESNET_EXPLORER_<NAME>``) or the app's flags (``--<name>``), passed to the code that enforces it.

Only the standard library here, so ``app.py --help`` and ``python -m explorer --help`` answer at once.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from typing import Any, Mapping

MIN_INPUT_SIZE = 32  # below the network's output stride the last stages collapse to 1×1


class LimitError(ValueError):
    """A limit set to a value it cannot take; ``field`` names it so the message can name the flag or env var."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ModelTooLarge(ValueError):
    """A model whose real run would need more memory than ``max_model_mb``."""


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB', 2**31 -> '2 GiB', 1000 MiB -> '0.977 GiB': binary units, as the ``*_mb`` limits are,
    with at most three digits before the point (until TiB)."""
    for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(n) >= 1000 * 1024 ** (power - 1):
            v = n / 1024 ** power
            return f"{v:.3g} {unit}" if abs(v) < 1000 else f"{v:,.0f} {unit}"
    return f"{n:g} B"


def env_name(field: str) -> str:
    return "RESNET_EXPLORER_" + field.upper()


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def how_to_raise(field: str) -> str:
    return f"raise it with {env_name(field)}, or {flag_name(field)} for app.py"


@dataclass(frozen=True)
class Limits:
    max_upload_mb: float = 25  # an uploaded image
    max_image_mp: float = 40  # decoded pixels (decompression bombs are refused before decoding)
    max_checkpoint_mb: float = 1024  # an uploaded checkpoint (the largest preset is ~510 MB)
    max_blocks_per_stage: int = 200  # ResNet-1202 (the CIFAR family, He et al. 2016) has 200 in each
    max_input_size: int = 1024  # px
    max_model_mb: float = 2048  # weights + activation peak of a model run for real (feature maps, --device)
    capture_mb: float = 512  # what one feature-map capture keeps
    model_cache: int = 2  # models with weights kept in memory (least recently used goes first)
    capture_store: int = 32  # captures kept for block switching (also capped at capture_mb in total)
    max_checkpoint_keys: int = 20_000  # tensors in one checkpoint (a ResNet has under 2,000)
    max_graph_nodes: int = 20_000  # nodes in an ONNX graph, subgraphs included (ResNet-152 has about 500)
    output_cache_mb: float = 1024  # files the server has written for answers and Gradio's copies of them

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            whole = f.type in ("int", int)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise LimitError(f.name, f"must be {'a whole number' if whole else 'a number'}, got {value!r}")
            if not math.isfinite(value):
                raise LimitError(f.name, f"must be a finite number, got {value!r}")
            if whole and value != int(value):
                raise LimitError(f.name, f"must be a whole number, got {value!r}")
            if whole:
                object.__setattr__(self, f.name, int(value))
            if not value > 0:
                raise LimitError(f.name, f"must be positive, got {value:g}")
        if self.max_input_size < MIN_INPUT_SIZE:
            raise LimitError("max_input_size", f"must be at least {MIN_INPUT_SIZE} (the smallest input a ResNet "
                                               f"takes), got {self.max_input_size}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Limits:
        """Defaults, then ``RESNET_EXPLORER_*`` variables, then ``overrides``; a bad variable names itself."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(env_name(f.name))
            if raw is None:
                continue
            try:
                values[f.name] = float(raw)
            except ValueError:
                raise LimitError(f.name, f"{env_name(f.name)} must be a number, got {raw!r}") from None
            try:
                cls(**{f.name: values[f.name]})
            except LimitError as exc:
                raise LimitError(f.name, f"{env_name(f.name)} {exc}") from None
        return cls(**{**values, **overrides})

    @property
    def upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def image_pixels(self) -> int:
        return int(self.max_image_mp * 1_000_000)

    @property
    def checkpoint_bytes(self) -> int:
        return int(self.max_checkpoint_mb * 2**20)

    @property
    def model_bytes(self) -> int:
        return int(self.max_model_mb * 2**20)

    @property
    def capture_bytes(self) -> int:
        return int(self.capture_mb * 2**20)

    @property
    def output_cache_bytes(self) -> int:
        return int(self.output_cache_mb * 2**20)

    def check_input_size(self, size: Any) -> int:
        """A whole number of pixels within [MIN_INPUT_SIZE, max_input_size]; ValueError naming the field."""
        if isinstance(size, float) and not math.isfinite(size):
            raise ValueError(f"input size must be a whole number of pixels, got {size!r}")
        if isinstance(size, float) and size == int(size):
            size = int(size)  # UI numbers arrive as floats
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"input size must be a whole number of pixels, got {size!r}")
        if size < MIN_INPUT_SIZE:
            raise ValueError(f"input size must be at least {MIN_INPUT_SIZE} px, got {size}")
        if size > self.max_input_size:
            raise ValueError(f"input size {size} px is over the {self.max_input_size} px limit "
                             f"({how_to_raise('max_input_size')})")
        return size

    def check_model_memory(self, weights: int, activations: int, input_size: int) -> None:
        """Refuse, before anything is allocated, a model whose weights plus inference activation peak (at
        ``input_size`` px, one image) are over ``max_model_mb``; the message names the need and the limit."""
        limit = f"the limit is {format_bytes(self.model_bytes)} ({how_to_raise('max_model_mb')})"
        if weights > self.model_bytes:
            raise ModelTooLarge(f"this model needs {format_bytes(weights)} of weights; {limit}")
        if weights + activations > self.model_bytes:
            raise ModelTooLarge(f"this model needs {format_bytes(weights + activations)} at {input_size} px "
                             f"({format_bytes(weights)} of weights + {format_bytes(activations)} of activations); "
                             f"{limit}")

    def check_depths(self, layers: tuple[int, ...]) -> None:
        """Refuse a stage deeper than ``max_blocks_per_stage``, naming the stage and how to raise the limit."""
        for stage, count in enumerate(layers, start=1):
            if count > self.max_blocks_per_stage:
                raise ValueError(f"layer{stage} has {count} blocks, over the limit of {self.max_blocks_per_stage} "
                                 f"per stage ({how_to_raise('max_blocks_per_stage')})")


DEFAULT_LIMITS = Limits()
