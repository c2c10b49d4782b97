"""What every handler checks first: the model a spec names, the input size, the batch, whole numbers; and the
"nothing changes" answer of a handler with named results."""
from __future__ import annotations

import math
from typing import Any, NamedTuple, TypeVar

import gradio as gr

from explorer.models import Model, parse_model
from explorer.structure.memory import check_batch
from resnet import ResNetConfig

from ..context import APP
from ..refusals import Refusal

R = TypeVar("R", bound=NamedTuple)


def skipped(result: type[R]) -> R:
    """``result`` with every field left as it is on the page."""
    return result(*(gr.skip() for _ in result._fields))


def whole(name: str, value: Any) -> int:
    """UI numbers arrive as floats; accept whole numbers only, with a message naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or float(value) != int(value):
        raise Refusal(f"{name} must be a whole number, got {value!r}", "Invalid value")
    return int(value)


MAX_NAME = 200  # characters: a spec, a block or a class name


def capped(name: str, value: Any) -> Any:
    """A text value no longer than any real one (it is echoed in messages and the log otherwise)."""
    if isinstance(value, str) and len(value) > MAX_NAME:
        raise Refusal(f"{name} is at most {MAX_NAME} characters, got {len(value):,}", "Value too long")
    return value


def model_config(spec: str) -> Model:
    """The model a spec names (ours, timm's, an opened file's), within the limits."""
    capped("a model spec", spec)
    try:
        config = parse_model(spec)
        if isinstance(config, ResNetConfig):
            APP.settings.limits.check_depths(config.layers)
    except ValueError as exc:
        raise Refusal(str(exc), "Invalid model") from None
    return config


def batch_size(value: Any) -> int:
    try:
        return check_batch(value)
    except ValueError as exc:
        raise Refusal(str(exc), "Invalid batch size") from None


def model_and_size(spec: str, input_size: Any) -> tuple[Model, int]:
    config = model_config(spec)
    try:
        return config, APP.settings.limits.check_input_size(input_size)
    except ValueError as exc:
        raise Refusal(str(exc), "Invalid input size") from None
