"""One place where a handler's failure becomes what the user sees, as stable-diffusion-webui's
``call_queue.wrap_gradio_call`` wraps every handler: a table from exception to the toast's title, and one
wrapper (``refusing``) that ``page.build_demo`` puts around every event's function.

Handlers raise what the library raises (a ``ValueError`` that says what is wrong, an ``ImageError``, ...) or a
``Refusal`` of their own; none of them builds a ``gr.Error``. Anything else is a bug: the user gets one line
saying so, the server log the traceback.
"""
from __future__ import annotations

import functools
import logging
from contextlib import nullcontext
from typing import Any, Callable

import gradio as gr

from explorer.features.images import ImageError
from explorer.graph.render import GraphvizMissing
from explorer.limits import LimitError, ModelTooLarge
from explorer.tracing.patching import forwards

from .events import Busy

from . import lib
from .html import safe_text

log = logging.getLogger("resnet-explorer")
DEFAULT_TITLE = "Cannot do that"


class Refusal(ValueError):
    """A handler's own refusal ("run an image first"), with the title its toast shows."""

    def __init__(self, message: str, title: str = DEFAULT_TITLE) -> None:
        super().__init__(message)
        self.title = title


def titled(title: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The title a handler's plain ``ValueError``s show under (``@titled("Cannot export")``)."""
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.refusal_title = title  # type: ignore[attr-defined]
        return fn

    return mark


def _table() -> tuple[tuple[type[BaseException], str], ...]:
    """Exception -> title, most specific first. Read when a refusal happens: some of these classes live on
    the torch side (``lib``), which is loaded by then."""
    return ((ImageError, "Cannot use this image"), (ModelTooLarge, "Model too large to run"),
            (lib.DownloadError, "Download failed"), (lib.CheckpointError, "Cannot load this checkpoint"),
            (LimitError, "Over a limit"), (GraphvizMissing, "Graphviz is not installed"),
            (lib.Expired, "Run expired"), (lib.NotAResNet, "Not a residual network"),
            (lib.ForwardFailed, "The model's forward failed"))


MAX_TEXT = 65_536  # characters: far more than any spec, block, class name or option the page sends


def check_lengths(args: tuple) -> None:
    """A text argument longer than any real one is refused before it reaches a handler (or the log)."""
    for a in args:
        if isinstance(a, str) and len(a) > MAX_TEXT:
            raise Refusal(f"a value of {len(a):,} characters is longer than any model spec, block or class name "
                          f"(at most {MAX_TEXT:,})", "Value too long")


def refusal(exc: BaseException, default_title: str = DEFAULT_TITLE) -> tuple[str, str] | None:
    """``(title, message)`` when ``exc`` is a refusal the user should read; ``None`` when it is a bug."""
    if isinstance(exc, Refusal):
        return exc.title, str(exc)
    if isinstance(exc, Busy):
        return "Busy", str(exc)
    if isinstance(exc, (ValueError, KeyError, OSError, GraphvizMissing, lib.NotAResNet, lib.ForwardFailed)):
        title = next((t for cls, t in _table() if isinstance(exc, cls)), default_title)
        if isinstance(exc, KeyError) and not isinstance(exc, lib.Expired):
            return None  # a missing key is ours, not the user's
        if isinstance(exc, OSError):
            return title, exc.strerror or "a file could not be read or written on the server"
        return title, str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)
    return None


def refusing(fn: Callable[..., Any], slots: Any = None) -> Callable[..., Any]:
    """``fn`` with its refusals shown as one-line toasts (its signature kept: Gradio reads it for event data,
    progress and the API's parameter names), run in one of ``slots`` when given (the app's work bound)."""
    if getattr(fn, "__wrapped_refusals__", False):
        return fn
    default_title = getattr(fn, "refusal_title", DEFAULT_TITLE)

    @functools.wraps(fn)
    def handler(*args: Any, **kwargs: Any) -> Any:
        try:
            check_lengths(args)
            with slots or nullcontext(), forwards():  # no torch work while torchview patches torch (patching.py)
                return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:  # every failure leaves here as one line
            shown = refusal(exc, default_title)
            if shown is None:
                log.exception("internal error in %s", getattr(fn, "__name__", "a handler"))
                raise gr.Error(f"something went wrong on the server ({type(exc).__name__}); the server log has the "
                               "details", title="Internal error") from None
            title, message = shown
            raise gr.Error(safe_text(message), title=title) from None

    handler.__wrapped_refusals__ = True  # type: ignore[attr-defined]
    return handler
