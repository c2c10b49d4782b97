"""What crosses tabs: the redraw of a new model (what is always on screen and the open tab, in one round
trip), the controls that make a new model, the opening of a tab, the one selected block, and a checkpoint
that switches the page to its model and then runs the image with its weights."""
from __future__ import annotations

from typing import Any

import gradio as gr

from . import events
from .handlers.features import features as run_image, weights_offer
from .handlers.model import OpenedModel, open_checkpoint_file, open_model_folder, source_notice, spec_from_controls
from .handlers.selection import keep_selection, open_inspector, select_block, select_from_page, select_from_table
from .handlers.structure import totals_text
from .refusals import refusal
from .tabs import Page, TabView, outputs_of
from .handlers.dataset import dataset_run, open_from_features
from .tabs.dataset import DatasetTabView
from .tabs.features import FeaturesView


class Redraw:
    """One event per new model: what is always on screen (totals, where the model came from, the weights
    offer, the inspector) and the open tab, in one round trip; each other tab fills when it is opened. (One
    event per view made a preset switch wait for seven round trips and seven re-renders of hidden tabs.)"""

    def __init__(self, page: Page, tabs: list[TabView], features: FeaturesView) -> None:
        c = page.controls
        self.tabs = tabs
        self.controls = c.all
        self.common = [c.model, c.input_size, c.batch, page.inspector.selected, page.capture_id, c.opened]
        self.extras = [x for t in tabs for x in t.inputs]
        head = [page.totals, c.source, *features.offer, *page.inspector.outputs]
        self.outputs = [*head, *(o for t in tabs for o in t.outputs)]
        self.drawn = gr.State(None)  # [spec, input size, batch, tab] the views show: a repeat request is skipped

    @property
    def inputs(self) -> list[Any]:
        """What ``views`` reads after the open tab's name."""
        return [*self.common, self.drawn, *self.extras]

    def views(self, *args: Any) -> tuple[Any, ...]:
        """The off-queue redraw: ``draw`` in one of the app's work slots; the totals say so when none comes."""
        try:
            with events.quick_work():
                return self.draw(*args)
        except events.Busy as exc:
            skip = (gr.skip(),) * (1 + len(self.outputs))
            return (skip[0], f"**{exc}**", *skip[2:])

    def draw(self, which: str, spec: str, size: float, n: float, selected: str, cid: str, opened: Any, shown: Any,
             *extra: Any) -> tuple[Any, ...]:
        """``drawn`` and every output: the open tab ``which`` filled, the other tabs left as they are."""
        key = [spec, size, n, which]
        if shown == key:
            return (gr.skip(),) * (1 + len(self.outputs))
        out = [key, totals_text(spec, size, n), source_notice(spec, opened), *weights_offer(spec),
               *keep_selection(spec, size, selected, cid)]
        at = 0
        for t in self.tabs:
            args, at = extra[at:at + len(t.inputs)], at + len(t.inputs)
            out += t.fill(spec, size, n, selected, *args) if t.name == which else (gr.skip(),) * len(t.outputs)
        return tuple(out)

    def controls_views(self, *args: Any) -> tuple[Any, ...]:
        """A control moved (queued: it holds a work slot already): the spec it makes applied and its views drawn,
        in one round trip (the model's change event then finds them drawn). ``args``: the controls, the current
        model, then what ``draw`` reads."""
        k = len(self.controls)
        box, spec = spec_from_controls(*args[:k], args[k])
        which, _, *tail = args[k + 1:]
        return (box, spec, *self.draw(which, spec, *tail))

    def preset_views(self, *args: Any) -> tuple[Any, ...]:
        """A preset picked, off the queue, where an error raised would show no message: the refusal, if any (a
        preset over a lowered blocks limit, a busy server), takes the totals' place, and nothing else changes."""
        try:
            with events.quick_work():
                return self.controls_views(*args)
        except (ValueError, events.Busy) as exc:
            _, message = refusal(exc) or ("", str(exc))
            skip = (gr.skip(),) * (3 + len(self.outputs))
            return (*skip[:3], f"**Cannot show this preset:** {message}", *skip[4:])

    def wire(self, page: Page) -> None:
        c = page.controls
        gr.on([page.demo.load, c.model.change, c.input_size.change], self.views, [page.active, *self.inputs],
              [self.drawn, *self.outputs], api_name="views", **events.private(**events.QUICK))
        # A dropdown fires "input" twice for one pick (Gradio 6.31); "select" once. A preset pick cannot be
        # invalid (but for a lowered limit), so it skips the queue; the custom fields can be (groups on a
        # BasicBlock), so they go through the queue, which shows their refusals.
        inputs = [*c.all, c.model, page.active, *self.inputs]
        outputs = [c.spec_box, c.model, self.drawn, *self.outputs]
        gr.on([x.select for x in c.all if isinstance(x, gr.Dropdown)], self.preset_views, inputs, outputs,
              api_name="preset_views", **events.private(**events.QUICK))
        gr.on([x.input for x in c.all if not isinstance(x, gr.Dropdown)], self.controls_views, inputs, outputs,
              api_name="spec_from_controls", **events.private(**events.VIEW))
        for t in self.tabs:
            self._wire_opening(page, t)

    def _wire_opening(self, page: Page, t: TabView) -> None:
        """A tab opened: it becomes the active one (in the browser, at once) and is filled for the model."""
        def opened(spec: str, size: float, n: float, selected: str, cid: str, _opened: Any, *extra: Any) -> Any:
            out = t.fill(spec, size, n, selected, *extra)
            return out if len(t.outputs) > 1 else out[0]  # (one output takes its value, not a 1-tuple)

        opened.__name__ = f"open_{t.name}"
        t.tab.select(None, None, page.active, js=f"() => {t.name!r}", **events.INSTANT)
        t.tab.select(opened, [*self.common, *t.inputs], t.outputs, api_name=f"open_{t.name}",
                     **events.private(**events.VIEW))


def wire_selection(page: Page, tabs: list[TabView]) -> None:
    """A block picked in the inspector (/select_block), clicked on the page (graph, plots) or chosen as a table
    row selects it everywhere."""
    ins, where = page.inspector, [*page.where]
    picked = [gr.on([ins.picker.select], select_block, [*where, ins.picker, page.capture_id], ins.outputs,
                    api_name="select_block", **events.VIEW),
              ins.hub.block_select(select_from_page, [*where, page.capture_id], ins.outputs,
                                   api_name="select_from_page", **events.private(**events.VIEW))]
    for table in (t for tab in tabs for t in tab.selects):
        picked.append(table.select(select_from_table, [*where, page.capture_id], ins.outputs,
                                   **events.private(**events.VIEW)))
    for event in picked:  # a block the user picked opens the inspector (beside the views, not above them)
        event.success(open_inspector, None, ins.panel, **events.INSTANT)


def wire_dataset(page: Page, view: DatasetTabView, features: FeaturesView) -> None:
    """/dataset_run takes the model above and the Feature maps tab's weights; a channel zoomed there opens its
    dataset examples when a run of the same model is open."""
    c, p = page.controls, view.parts
    p["run"].click(dataset_run, [c.model, p["upload"], p["folder"], features.parts["weights"], c.checkpoint,
                                 p["top_k"], p["lesion"], p["remove_k"], p["resize"], p["crop"]], view.view,
                   api_name="dataset_run", **events.DATASET)
    channel = features.parts["channel"]
    channel.submit(open_from_features, [c.model, p["run_id"], page.inspector.selected, channel],
                   [page.tabs, p["channel"], *view.shown], api_name="dataset_from_features",
                   **events.private(**events.VIEW))


def wire_checkpoint(page: Page, features: FeaturesView) -> None:
    """A checkpoint or model file (or a Hugging Face folder's files) switches every view to the model inside it,
    then runs the image with its weights."""
    c = page.controls
    outputs = outputs_of(OpenedModel, spec_box=c.spec_box, model=c.model, weights=features.parts["weights"],
                         opened=c.opened)
    for box, fn, name in ((c.checkpoint, open_checkpoint_file, "open_checkpoint"),
                          (c.folder, open_model_folder, "open_folder")):
        box.upload(fn, box, outputs, api_name=name) \
            .success(source_notice, [c.model, c.opened], c.source, **events.PRIVATE) \
            .success(run_image, features.run_inputs, features.run_outputs, **events.private(**events.RUN))
