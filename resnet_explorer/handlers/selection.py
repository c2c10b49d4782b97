"""One selected block across every view: the inspector (its code, its facts, what the last image did in it),
the block pickers, and the highlight in the graph, the tables and the plots."""
from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any, NamedTuple

import gradio as gr

from explorer.models import OWN_WEIGHTS, Model, TimmModel

from .. import lib
from ..context import APP
from ..html import code_html, selection_html
from ..refusals import Refusal
from .checks import capped, model_and_size


class Selected(NamedTuple):
    selected: str  # the hidden field every view follows
    picker: Any  # the inspector's block picker
    facts: str
    code: str
    hub: str  # the selection component (assets/selection.js highlights from its data attributes)


@functools.lru_cache(maxsize=4)
def _meta_timm(config: TimmModel) -> Any:
    """A timm model on the meta device, kept while its blocks are being clicked through (30+ ms to build)."""
    return lib.meta_model(config)


def _module_of(config: Model, name: str, backbone: str = "") -> Any:
    """The block as a module, for models whose code we show as their own (a timm model on the meta device, a
    file's model as it was loaded, a live module's shadow); None for a block without a module (an ONNX graph's)."""
    if isinstance(config, TimmModel):
        return _meta_timm(config).get_submodule(name)
    if isinstance(config, OWN_WEIGHTS):
        try:
            return config.build().get_submodule(f"{backbone}.{name}" if backbone else name)
        except AttributeError:
            return None
    return None


def _capture(cid: str) -> Any:
    """The image run ``cid``, or None when there is none (any more)."""
    try:
        return APP.store.capture(cid) if cid else None
    except lib.Expired:
        return None


def select_block(spec: str, input_size: float, name: str, cid: str = "") -> Selected:
    """Select ``name`` everywhere."""
    config, size = model_and_size(spec, input_size)
    trace = lib.structure_trace(config, size)
    blocks = [b.name for b in trace.blocks]
    capped("a block name", name)
    if name not in blocks:
        raise Refusal(f"no block named {name!r} in {trace.model_name}; its blocks are {blocks[0]} … {blocks[-1]}",
                      "Unknown block")
    inspection = lib.inspect_block(trace, name, _module_of(config, name, trace.backbone))
    cap = _capture(cid)
    if cap is not None and cap.model_name == trace.model_name and name in cap.maps:
        inspection = replace(inspection, activations=lib.block_facts(cap, name))
    return Selected(name, gr.update(choices=blocks, value=name), lib.inspection_markdown(inspection, trace),
                    code_html(inspection.code), selection_html(name, blocks))


def keep_selection(spec: str, input_size: float, name: str, cid: str = "") -> Selected:
    """A new model or input size: the same block where it still exists, else the first block."""
    config, size = model_and_size(spec, input_size)
    blocks = [b.name for b in lib.structure_trace(config, size).blocks]
    return select_block(spec, input_size, name if name in blocks else blocks[0], cid)


def select_from_page(spec: str, input_size: float, cid: str, evt: gr.EventData) -> Selected:
    """A block clicked in the graph or a plot (assets/selection.js sends its name)."""
    return select_block(spec, input_size, str(getattr(evt, "block", "") or evt._data.get("block", "")), cid)


def select_from_table(spec: str, input_size: float, cid: str, evt: gr.SelectData) -> Selected:
    """A row of the block tables: its first cell is the block."""
    row = evt.row_value or []
    return select_block(spec, input_size, str(row[0]).split(" ")[0] if row else "", cid)


def echo(name: str) -> str:
    """A block picked in the Feature maps tab becomes the selection."""
    return name
