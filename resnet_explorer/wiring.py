"""What crosses tabs: the redraw of a new model (what is always on screen and the open tab, in one round
trip), the controls that make a new model, the opening of a tab, the one selected block, and a checkpoint
that switches the page to its model and then runs the image with its weights."""
from __future__ import annotations


import gradio as gr

from . import events
from .handlers.features import features as run_image, weights_offer
from .handlers.model import (OpenedModel, custom_from_preset, open_checkpoint_file, open_model_folder, size_for,
                             source_notice, spec_from_controls)
from .handlers.selection import keep_selection, select_block, select_from_page, select_from_table
from .handlers.structure import totals_text
from .refusals import refusal
from .tabs import Page, TabView, inputs_of, outputs_of
from .handlers.dataset import FromFeatures, dataset_run, open_from_features
from .tabs.controls import OPEN_INSPECTOR
from .tabs.dataset import DatasetTabView
from .tabs.features import FeaturesView


class Redraw:
    """One event per new model: what is always on screen (totals, where the model came from, the weights
    offer, the inspector) and the open tab, in one round trip; each other tab fills when it is opened. (One
    event per view made a preset switch wait for seven round trips and seven re-renders of hidden tabs.)

    Its handlers take their inputs and give their outputs by component (Gradio's dict form): a view that is not
    redrawn is simply absent from the answer, and no position in a list has to line up with another."""

    def __init__(self, page: Page, tabs: list[TabView], features: FeaturesView) -> None:
        c = page.controls
        self.page, self.tabs, self.features = page, tabs, features
        self.drawn = gr.State(None)  # [spec, input size, batch, tab] the views show: a repeat request is skipped
        self.inputs = {page.active, c.model, c.input_size, c.batch, page.inspector.selected, page.capture_id,
                       c.opened, self.drawn, *(x for t in tabs for x in t.inputs)}
        self.outputs = {self.drawn, page.totals, c.source, c.input_size, *features.offer, *page.inspector.outputs,
                        *(o for t in tabs for o in t.outputs)}

    def views(self, data: dict) -> dict:
        """The off-queue redraw: ``draw`` in one of the app's work slots; the totals say so when none comes."""
        try:
            with events.quick_work():
                return self.draw(data)
        except events.Busy as exc:
            return {self.page.totals: f"**{exc}**"}

    def draw(self, data: dict) -> dict:
        """The views of the model ``data`` names: what is always on screen and the open tab (the others are left
        as they are, and fill when opened)."""
        p, c = self.page, self.page.controls
        spec, size, n, selected = data[c.model], data[c.input_size], data[c.batch], data[p.inspector.selected]
        if spec != (data[self.drawn] or [None])[0]:  # a new model: at its own size (a CIFAR model's 32 px)
            size = size_for(spec, size)
        key = [spec, size, n, data[p.active]]
        if data[self.drawn] == key:
            return {}
        out = {self.drawn: key, p.totals: totals_text(spec, size, n), c.source: source_notice(spec, data[c.opened])}
        if size != data[c.input_size]:
            out[c.input_size] = size  # (its change event then finds these views drawn)
        out.update(zip(self.features.offer, weights_offer(spec)))
        out.update(zip(p.inspector.outputs, keep_selection(spec, size, selected, data[p.capture_id])))
        for t in self.tabs:
            if t.name == data[p.active]:
                out.update(zip(t.outputs, t.fill(spec, size, n, selected, *(data[x] for x in t.inputs))))
        return out

    def controls_views(self, data: dict) -> dict:
        """A control moved (queued: it holds a work slot already): the spec it makes applied and its views drawn,
        in one round trip (the model's change event then finds them drawn)."""
        c = self.page.controls
        box, spec = spec_from_controls(*(data[x] for x in c.all), data[c.model])
        out = {c.spec_box: box, c.model: spec, **self.draw({**data, c.model: spec})}
        if data[c.mode] == "Preset":  # the custom fields follow the preset, so "Custom" starts from it
            out.update(zip(c.fields, custom_from_preset(data[c.preset])))
        return out

    def preset_views(self, data: dict) -> dict:
        """A preset picked, off the queue, where an error raised would show no message: the refusal, if any (a
        preset over a lowered blocks limit, a busy server), takes the totals' place, and nothing else changes."""
        try:
            with events.quick_work():
                return self.controls_views(data)
        except (ValueError, events.Busy) as exc:
            _, message = refusal(exc) or ("", str(exc))
            return {self.page.totals: f"**Cannot show this preset:** {message}"}

    def wire(self, page: Page) -> None:
        c = page.controls
        gr.on([page.demo.load, c.model.change, c.input_size.change], self.views, self.inputs, self.outputs,
              api_name="views", **events.private(**events.QUICK))
        # A dropdown fires "input" twice for one pick (Gradio 6.31); "select" once. A preset pick cannot be
        # invalid (but for a lowered limit), so it skips the queue; the custom fields can be (groups on a
        # BasicBlock), so they go through the queue, which shows their refusals.
        inputs, outputs = {*c.all, *self.inputs}, {c.spec_box, c.model, *c.fields, *self.outputs}
        gr.on([x.select for x in c.all if isinstance(x, gr.Dropdown)], self.preset_views, inputs, outputs,
              api_name="preset_views", **events.private(**events.QUICK))
        gr.on([x.input for x in c.all if not isinstance(x, gr.Dropdown)], self.controls_views, inputs, outputs,
              api_name="spec_from_controls", **events.private(**events.VIEW))
        for t in self.tabs:
            self._wire_opening(page, t)

    def _wire_opening(self, page: Page, t: TabView) -> None:
        """A tab opened: it becomes the active one (in the browser, at once) and is filled for the model."""
        c = page.controls

        def opened(data: dict) -> dict:
            views = t.fill(data[c.model], data[c.input_size], data[c.batch], data[page.inspector.selected],
                           *(data[x] for x in t.inputs))
            return dict(zip(t.outputs, views))

        opened.__name__ = f"open_{t.name}"
        t.tab.select(None, None, page.active, js=f"() => {t.name!r}", **events.INSTANT)
        t.tab.select(opened, {c.model, c.input_size, c.batch, page.inspector.selected, *t.inputs}, set(t.outputs),
                     api_name=f"open_{t.name}", **events.private(**events.VIEW))


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
    for event in picked:  # a block the user picked opens the inspector (over the page's right, never moving it)
        event.success(None, None, None, js=OPEN_INSPECTOR)


def wire_dataset(page: Page, view: DatasetTabView, features: FeaturesView) -> None:
    """/dataset_run takes the model above and the Feature maps tab's weights; a channel zoomed there opens its
    dataset examples when a run of the same model is open."""
    c = page.controls
    view.run.click(dataset_run, inputs_of(dataset_run, spec=c.model, uploads=view.uploads, folder=view.folder,
                                          weights=features.weights, checkpoint=c.checkpoint, top_k=view.top_k,
                                          lesion=view.lesion, remove_k=view.remove_k, resize=view.resize,
                                          crop=view.crop, normalisation=features.normalisation),
                   view.view, api_name="dataset_run", **events.DATASET)
    features.channel.submit(open_from_features, inputs_of(open_from_features, spec=c.model, name=view.run_id,
                                                          block=page.inspector.selected, channel=features.channel),
                            outputs_of(FromFeatures, tabs=page.tabs, channel=view.channel, **view.shown._asdict()),
                            api_name="dataset_from_features", **events.private(**events.VIEW))


def wire_checkpoint(page: Page, features: FeaturesView) -> None:
    """A checkpoint or model file (or a Hugging Face folder's files) switches every view to the model inside it,
    then runs the image with its weights."""
    c = page.controls
    outputs = outputs_of(OpenedModel, spec_box=c.spec_box, model=c.model, weights=features.weights,
                         opened=c.opened)
    for box, fn, name in ((c.checkpoint, open_checkpoint_file, "open_checkpoint"),
                          (c.folder, open_model_folder, "open_folder")):
        box.upload(fn, box, outputs, api_name=name, **events.WORK) \
            .success(source_notice, [c.model, c.opened], c.source, **events.PRIVATE) \
            .success(run_image, features.run_inputs, features.run_outputs, **events.private(**events.RUN))
