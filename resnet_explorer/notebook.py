"""The app served on a live module from Python (``explorer.show``): the same page as ``python app.py``, its
landing model the module, on a server thread of the caller's process (a notebook's kernel), shown inline in a
notebook. Nothing process-wide is changed here: no malloc setting, no frozen collector generations, and no
``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` (the caller's own ``torch.load`` is theirs; every load of a user's file in
the app runs under ``explorer.trust.weights_only_loads`` anyway)."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from explorer.live import LiveModel

from .context import APP
from .handlers.model import opened_notice
from .page import build_demo, launch_options


def serve_live(model: LiveModel, datasets: Path | None = None, host: str = "127.0.0.1", port: int | None = None,
               inline: bool | None = None, inbrowser: bool = False) -> tuple[gr.Blocks, str]:
    """Serve the page on ``model``; returns the app and its URL (the server runs until ``close()``)."""
    if datasets is not None:
        APP.use(datasets=datasets)  # every app of this process offers the folders: the settings are one
    notice = opened_notice(f": {model.title}, live (its own weights and code)")
    demo = build_demo(landing=model.spec, notice=notice)
    demo.queue(default_concurrency_limit=2, max_size=64)
    _, url, _ = demo.launch(server_name=host, server_port=port, inline=inline, inbrowser=inbrowser,
                            prevent_thread_lock=True, quiet=True, **launch_options())
    return demo, url
