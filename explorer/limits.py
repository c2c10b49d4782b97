"""Every resource limit in one place: documented defaults, overridable by environment variables
(``RESNET_EXPLORER_<NAME>``) or the app's flags (``--<name>``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    max_upload_mb: float = 25  # an uploaded image
    max_image_mp: float = 40  # decoded pixels (decompression bombs are refused before decoding)
    max_checkpoint_mb: float = 1024  # an uploaded checkpoint (the largest preset is ~510 MB)
    max_blocks_per_stage: int = 64
    max_input_size: int = 1024  # px
    capture_mb: float = 512  # what one feature-map capture keeps
    model_cache: int = 2  # models with weights kept in memory (least recently used goes first)
    capture_store: int = 32  # captures kept for block switching (also capped at capture_mb in total)


def env_name(field: str) -> str:
    return "RESNET_EXPLORER_" + field.upper()


def from_env(environ: dict[str, str] | None = None) -> Limits:
    environ = os.environ if environ is None else environ
    values = {}
    for f in fields(Limits):
        raw = environ.get(env_name(f.name))
        if raw is not None:
            try:
                values[f.name] = type(f.default)(float(raw)) if f.type == "int" else float(raw)
            except ValueError:
                raise ValueError(f"{env_name(f.name)} must be a number, got {raw!r}") from None
    return check(Limits(**values))


def check(limits: Limits) -> Limits:
    for f in fields(Limits):
        value = getattr(limits, f.name)
        if not value > 0:
            raise ValueError(f"{f.name} must be positive, got {value}")
    return limits


def apply(limits: Limits) -> Limits:
    """Set the limits where they are enforced."""
    from PIL import Image

    import resnet.config
    import resnet.weights

    from . import capture, images, inference, structure

    check(limits)
    images.MAX_UPLOAD_BYTES = int(limits.max_upload_mb * 2**20)
    images.MAX_IMAGE_PIXELS = int(limits.max_image_mp * 1_000_000)
    Image.MAX_IMAGE_PIXELS = 2 * images.MAX_IMAGE_PIXELS
    resnet.weights.MAX_CHECKPOINT_BYTES = int(limits.max_checkpoint_mb * 2**20)
    resnet.config.MAX_BLOCKS_PER_STAGE = int(limits.max_blocks_per_stage)
    structure.MAX_INPUT_SIZE = int(limits.max_input_size)
    capture.DEFAULT_BUDGET_BYTES = int(limits.capture_mb * 2**20)
    inference.MODEL_CACHE_SIZE = int(limits.model_cache)
    inference.CAPTURE_STORE_SIZE = int(limits.capture_store)
    inference.CAPTURE_STORE_BYTES = int(limits.capture_mb * 2**20)
    return limits
