"""The page's layout: what is always on screen (``controls``: the model, the inspector) and one module per
tab, each with ``build(page) -> TabView`` (components only) and ``wire(page, view)`` (its own events).
``resnet_explorer.page`` builds every part before it wires any, so no wiring depends on build order; what crosses tabs
is wired in ``resnet_explorer.wiring``. ``Page`` is the context every builder gets: no module globals, no registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import gradio as gr

from ..handlers.model import AppliedSpec, CustomFields
from ..handlers.selection import Selected
from ..landing import Landing
from ..settings import AppSettings


def outputs_of(result: type[NamedTuple], **components: Any) -> list[Any]:
    """The outputs list of an event whose handler returns ``result``: its fields' components, in field order,
    so the list and the handler's return cannot drift apart."""
    if set(components) != set(result._fields):
        raise TypeError(f"{result.__name__} has fields {result._fields}; got components for {sorted(components)}")
    return [components[name] for name in result._fields]


def inputs_of(fn: Callable[..., Any], **components: Any) -> list[Any]:
    """The inputs list of an event whose handler is ``fn``: a component for each of its parameters by name, in
    its parameter order (those with defaults may be left out at the end)."""
    import inspect

    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("progress", "request")]
    names = [p.name for p in params]
    unknown = set(components) - set(names)
    taken = names[:len(components)]
    if unknown or set(taken) != set(components):
        raise TypeError(f"{fn.__name__} takes {names}; got components for {sorted(components)}")
    return [components[name] for name in taken]


@dataclass
class Controls:
    """Which model every tab shows: the applied spec (a hidden Textbox, so API calls pass it too; only
    handlers write it, so its change means "new model"), the input and batch size, and its sources."""

    model: gr.Textbox
    input_size: gr.Slider
    batch: gr.Number
    spec_box: gr.Textbox
    checkpoint: gr.File
    opened: gr.State  # [spec, notice] of the last checkpoint opened
    source: gr.Markdown
    mode: gr.Radio
    preset: gr.Dropdown
    fields: list[Any]  # the custom fields, in CustomFields order
    timm_arch: gr.Dropdown | None
    load_preset: gr.Button
    custom: gr.Group
    folder: gr.File  # a Hugging Face folder's files
    opener: gr.Button  # "Open a model…": shows the sources' panel
    panel: gr.Group  # the checkpoint, the Hugging Face folder and the timm picker

    @property
    def all(self) -> list[Any]:
        """Mode, preset and the custom fields: what spec_from_controls reads."""
        return [self.mode, self.preset, *self.fields]

    @property
    def applied(self) -> list[Any]:
        """What a typed spec sets (``AppliedSpec``)."""
        custom = dict(zip(CustomFields._fields, self.fields))
        return outputs_of(AppliedSpec, spec_box=self.spec_box, model=self.model, mode=self.mode, preset=self.preset,
                          **custom)


@dataclass
class Inspector:
    """The selected block (a hidden Textbox, so API calls pass it) and the inspector that shows it."""

    selected: gr.Textbox
    picker: gr.Dropdown
    facts: gr.Markdown
    code: gr.HTML
    hub: gr.HTML  # the selection component: shows it, and hears clicks on the page (assets/selection.js)
    panel: gr.Column  # the side panel the inspector is in: opened when the user selects a block
    channel_page: gr.Button | None = None  # opens the Channel pictures tab on the selected block

    @property
    def outputs(self) -> list[Any]:
        return outputs_of(Selected, selected=self.selected, picker=self.picker, facts=self.facts, code=self.code,
                          hub=self.hub)


@dataclass
class Page:
    """What every tab builder gets: the settings and the parts shared across tabs."""

    demo: gr.Blocks
    settings: AppSettings
    controls: Controls
    totals: gr.Markdown
    inspector: Inspector
    active: gr.Textbox  # the open tab, the only one a new model refills at once: set in the browser on a click, so
    # it is the tab the user sees whatever order the servers' answers come in
    capture_id: gr.State  # the last image run (Feature maps), which the inspector and the class maps read
    landing: Landing  # what the page shows before its first redraw
    tabs: gr.Tabs | None = None  # the tab set, which a handler may switch

    @property
    def where(self) -> list[Any]:
        """The model and input size, which most views take first."""
        return [self.controls.model, self.controls.input_size]


@dataclass
class TabView:
    """A tab and how to fill it for a model: ``fill(spec, input_size, batch, selected, *inputs)`` gives its
    ``outputs``. A tab is filled when it is open: on a new model only the open tab is, the others when opened."""

    name: str
    tab: gr.Tab
    fill: Callable[..., tuple[Any, ...]]
    outputs: list[Any]
    inputs: list[Any] = field(default_factory=list)
    selects: list[Any] = field(default_factory=list)  # tables whose rows select a block
