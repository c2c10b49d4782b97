"""The page: every part built (controls, inspector, tabs), then every part wired, then one wrapper around
every event's function (``refusals.refusing``). ``build_demo()`` is what the tests and ``python app.py`` use."""
from __future__ import annotations

from typing import Any

import gradio as gr

from . import events, wiring
from .context import APP
from .landing import landing as first_view
from .refusals import refusing
from .settings import ASSETS
from .tabs import Page, channel, compare, controls, dataset, features, graph, structure, tables

TABS = (graph, tables, structure, compare, features, dataset, channel)  # in the order they show: the architecture first


def build_demo(landing: str | None = None, notice: str = "", compute_first: bool = True) -> gr.Blocks:
    """The page; ``landing`` is the model it shows first (default: the settings' own), ``notice`` where it came
    from; ``compute_first``: its first view computed now (torch imported for it) rather than read from an earlier
    start's (``python app.py`` serves its page before torch is imported)."""
    settings = APP.settings
    with gr.Blocks(title="ResNet Explorer") as demo:
        first = first_view(landing or settings.landing, compute_first)
        c = controls.build_controls(settings, first.spec, notice)
        with gr.Row(elem_id="status-row"):
            totals = gr.Markdown(first.totals, elem_id="totals")
            hub = controls.build_selection()
        inspector = controls.build_inspector(hub)
        active = gr.Textbox("graph", visible=False, elem_id="active-tab")
        page = Page(demo, settings, c, totals, inspector, active=active, capture_id=gr.State(""), landing=first)
        with gr.Tabs(elem_id="tabs", selected="graph") as page.tabs:
            views = [tab.build(page) for tab in TABS]
        controls.wire(page)
        for tab, view in zip(TABS, views):
            if tab is not channel:
                tab.wire(page, view)
        channel.wire(page, views[TABS.index(channel)], views[TABS.index(features)], views[TABS.index(dataset)])
        feats = views[TABS.index(features)]
        wiring.Redraw(page, views, feats).wire(page)
        wiring.wire_selection(page, views)
        wiring.wire_checkpoint(page, feats)
        wiring.wire_dataset(page, views[TABS.index(dataset)], feats)
    for block_fn in demo.fns.values():
        if block_fn.fn is None:
            continue
        heavy = block_fn.queue and block_fn.concurrency_id == events.WORK_ID  # (the presets say which: events.py)
        block_fn.fn = refusing(block_fn.fn, slots=events.work() if heavy else None)
    return demo


def launch_options() -> dict[str, Any]:
    """Options every launch uses (the tests' too): styles, one-line error messages, the upload limit."""
    limits = APP.settings.limits
    return {"css": (ASSETS / "app.css").read_text(), "js": (ASSETS / "a11y.js").read_text(),
            "theme": gr.themes.Default(primary_hue="blue"), "show_error": True,
            "max_file_size": int(max(limits.max_upload_mb, limits.max_checkpoint_mb) * 2**20)}
