"""What is always on screen: the model bar (preset, spec box, structure, input and batch size; custom fields; the
other sources behind "Open a model…"), the selected block, and the block inspector (a side panel)."""
from __future__ import annotations

import gradio as gr

from explorer.limits import MIN_INPUT_SIZE
from explorer.models import CHECKPOINT_SUFFIXES, timm_installed
from explorer.sources import SUFFIXES
from explorer.structure.memory import MAX_BATCH
from resnet import PRESETS, get_preset
from resnet.config import MAX_GROUPS, MAX_WIDTH_PER_GROUP

from .. import events
from ..handlers import model as h
from ..html import code_html, selection_html
from ..settings import ASSETS, DEFAULT_SPEC, AppSettings
from . import Controls, Inspector, Page, outputs_of


def _sources(settings: AppSettings) -> tuple[gr.Group, gr.File, gr.File, gr.Dropdown | None]:
    """Behind one "Open a model…" control: a checkpoint or model file, a Hugging Face folder's files, and (with timm
    installed) timm's architectures."""
    with gr.Group(elem_id="open-panel") as panel:  # hidden by its CSS until "Open a model…" (TOGGLE_PANEL)
        with gr.Row(equal_height=True):
            checkpoint = gr.File(label=f"A model file, up to {settings.limits.max_checkpoint_mb:g} MiB: a checkpoint "
                                       "(.pth, .safetensors: its architecture read from the weights), .onnx, a "
                                       "torch.export .pt2, or a zipped Hugging Face folder",
                                 file_types=[*CHECKPOINT_SUFFIXES, *SUFFIXES], type="filepath", elem_id="checkpoint",
                                 scale=2)
            folder = gr.File(label="A Hugging Face folder: its config.json and model.safetensors together",
                             file_types=[".json", ".safetensors"], file_count="multiple", type="filepath",
                             elem_id="model-folder", scale=1)
            # timm takes ~1.7 s to import: its list is read when the picker is first opened, not at start-up.
            timm_arch = gr.Dropdown([], value=None, label="A timm architecture", elem_id="timm-arch", scale=1,
                                    allow_custom_value=True) if timm_installed() else None
    return panel, checkpoint, folder, timm_arch


def _custom_fields(settings: AppSettings) -> tuple[gr.Group, list[gr.components.Component], gr.Button]:
    """Block type, blocks per stage, width, groups, stride placement (shown in Custom mode)."""
    d = get_preset(DEFAULT_SPEC)
    with gr.Group(visible=False, elem_id="custom-group") as custom:
        with gr.Row():
            family = gr.Radio(list(h.FAMILIES), value="ImageNet", label="Family (He et al. 2016)", elem_id="family")
            block_type = gr.Radio(["bottleneck", "basic"], value=d.block, label="Block type", elem_id="block-type")
            stride_in = gr.Radio(["v1.5", "v1"], value="v1.5", label="Stride on (v1.5: 3×3, v1: first 1×1)",
                                 elem_id="stride-in")
            shortcut = gr.Radio(["A", "B", "C"], value="A", elem_id="shortcut-option",
                                label="Shortcut (A: zero-pad, B: project where the shape changes, C: always)")
        with gr.Row():
            depths = [gr.Slider(1, settings.limits.max_blocks_per_stage, value=n, step=1, label=f"layer{i} blocks",
                                elem_id=f"layer{i}-blocks") for i, n in enumerate(d.layers, start=1)]
        with gr.Row():
            width = gr.Slider(1, MAX_WIDTH_PER_GROUP, value=64, step=1, label="Width per group (64 = ResNet)",
                              elem_id="width-per-group")
            groups = gr.Slider(1, MAX_GROUPS, value=1, step=1, label="Groups (ResNeXt)", elem_id="groups")
            base_width = gr.Slider(1, 256, value=16, step=1, label="Base width (16: the paper's)",
                                   elem_id="base-width")
            load_preset = gr.Button("Copy the picked preset into these fields", size="sm", elem_id="load-preset",
                                    scale=0, min_width=160)
    fields = outputs_of(h.CustomFields, block_type=block_type, layer1=depths[0], layer2=depths[1], layer3=depths[2],
                        layer4=depths[3], width=width, groups=groups, stride_in=stride_in, family=family,
                        shortcut=shortcut, base_width=base_width)
    return custom, fields, load_preset


# "Open a model…" shows or hides the sources' row (a class on it: its components stay mounted, so a file can be
# dropped on them as soon as they show)
TOGGLE_PANEL = "() => { document.body.classList.toggle('rx-sources-open'); }"
# The inspector's panel: opened by a block the user picks (wiring.wire_selection), closed by its button or Escape
OPEN_INSPECTOR = "() => { document.body.classList.add('rx-inspector-open'); }"
CLOSE_INSPECTOR = "() => { document.body.classList.remove('rx-inspector-open'); }"
# The custom fields of the family picked: CIFAR's three stages, shortcut option and base width, or ImageNet's
# four stages, block type, width, groups and stride placement (a class on the page; app.css hides the others)
SHOW_FAMILY = "(family) => { document.body.classList.toggle('rx-cifar', family === 'CIFAR'); }"


def build_controls(settings: AppSettings, landing: str = DEFAULT_SPEC, notice: str = "") -> Controls:
    """The model bar, one row: the title, a preset or a spec, the input and batch size; the other sources behind
    "Open a model…" and the custom fields under it. ``landing`` is the model shown first (``notice``: where it
    came from)."""
    limits = settings.limits
    with gr.Row(elem_id="model-bar"):
        gr.HTML("<h1>ResNet<br>Explorer</h1>", elem_id="intro", scale=0, min_width=110)
        preset = gr.Dropdown([(p.title, n) for n, p in PRESETS.items()],
                             value=landing if landing in PRESETS else DEFAULT_SPEC, label="Preset",
                             elem_id="preset", scale=1, min_width=175)
        spec_box = gr.Textbox(landing, label="Model spec (Enter applies it)", elem_id="spec",
                              scale=2, max_lines=1, min_width=200,
                              placeholder="e.g. resnet101, resnet50:v1, bottleneck:3-4-6-3:32x4d, basic:2-2-2-2:c10")
        mode = gr.Radio(list(h.MODES), value="Preset", label="Structure", elem_id="mode", scale=0, min_width=200)
        input_size = gr.Slider(MIN_INPUT_SIZE, limits.max_input_size, value=min(224, limits.max_input_size), step=1,
                               label="Input (px)", elem_id="input-size", scale=1, min_width=180)
        batch = gr.Number(1, precision=0, minimum=1, maximum=MAX_BATCH, label="Batch", elem_id="batch-size",
                          scale=0, min_width=80)
        opener = gr.Button("Open a model…", elem_id="open-model", scale=0, min_width=120, size="sm")
    custom, fields, load_preset = _custom_fields(settings)
    panel, checkpoint, folder, timm_arch = _sources(settings)
    source = gr.Markdown(notice, elem_id="model-source")
    opened = gr.State([landing, notice] if notice else None)
    model = gr.Textbox(landing, visible=False, elem_id="model")
    return Controls(model, input_size, batch, spec_box, checkpoint, opened, source, mode, preset, fields, timm_arch,
                    load_preset, custom, folder, opener, panel)


def build_selection() -> gr.HTML:
    """The selected block, one line over the views (it also hears clicks anywhere on the page that name a block:
    assets/selection.js), so it is mounted whether the inspector is open or not."""
    return gr.HTML(selection_html("", []), elem_id="selection", js_on_load=(ASSETS / "selection.js").read_text(),
                   scale=0, min_width=300)


def build_inspector(hub: gr.HTML) -> Inspector:
    """The block inspector, a panel at the right over the page: opened when a block is selected, closable, never
    moving the views. The selected block's code and facts, whichever tab is open."""
    # A fixed panel opened by a class on the page (OPEN_INSPECTOR), not gr.Sidebar: the Sidebar re-measures its
    # overlap with the page on every update, a third more time per redraw (benchmarks/redraw.py: 0.20 s, 0.15).
    with gr.Column(elem_id="inspector-panel") as panel:
        close = gr.Button("Close ×", size="sm", elem_id="inspector-close", min_width=80)
        with gr.Column(elem_id="inspector"):
            picker = gr.Dropdown([], value=None, label="Block", elem_id="inspector-block", allow_custom_value=True)
            facts = gr.Markdown(elem_id="inspector-facts")
            channel_page = gr.Button("Its channels' pictures ›", size="sm", elem_id="inspector-channel-page")
            code = gr.HTML(code_html(""), elem_id="inspector-code")
    selected = gr.Textbox("", visible=False, elem_id="selected-block")
    close.click(None, None, None, js=CLOSE_INSPECTOR)
    return Inspector(selected, picker, facts, code, hub, panel, channel_page)


def wire(page: Page) -> None:
    """The controls' own events: a typed spec, the preset copied into the custom fields, the mode, timm's
    picker. (A control moved redraws the views with its spec in one round trip: ``resnet_explorer.wiring``.)"""
    c = page.controls
    gr.on([c.spec_box.submit, c.spec_box.blur], h.apply_spec, c.spec_box, c.applied, api_name="apply_spec",
          **events.private(trigger_mode="always_last"))
    c.load_preset.click(h.custom_from_preset, c.preset, c.fields, api_name="custom_from_preset", **events.PRIVATE) \
        .success(h.spec_from_controls, [*c.all, c.model], outputs_of(h.Spec, spec_box=c.spec_box, model=c.model),
                 **events.PRIVATE)
    c.mode.change(h.show_custom, c.mode, c.custom, api_name="show_custom", **events.PRIVATE)
    family = dict(zip(h.CustomFields._fields, c.fields))["family"]
    family.change(None, family, None, js=SHOW_FAMILY)  # in the browser: typed CIFAR specs set it too
    c.opener.click(None, None, None, js=TOGGLE_PANEL)  # in the browser: nothing to ask the server
    if c.timm_arch is not None:
        c.timm_arch.focus(h.timm_choices, None, c.timm_arch, api_name="timm_choices", **events.PRIVATE)
        c.timm_arch.input(h.pick_timm, c.timm_arch, c.applied, api_name="pick_timm", **events.PRIVATE)
