"""What is always on screen: the model (preset, custom fields, spec box, checkpoint, timm picker), the input
and batch size, and the block inspector above the tabs."""
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


def _sources(settings: AppSettings) -> tuple[gr.File, gr.File, gr.Dropdown | None]:
    """A checkpoint or model file to open, a Hugging Face folder's files, and (with timm installed) timm's
    architectures."""
    with gr.Row():
        checkpoint = gr.File(label=f"…or open a model file, up to {settings.limits.max_checkpoint_mb:g} MiB: a "
                                   "checkpoint (.pth state dict or .safetensors: its architecture read from the "
                                   "weights), an ONNX graph (.onnx), a torch.export program (.pt2) or a zipped "
                                   "Hugging Face folder (.zip)",
                             file_types=[*CHECKPOINT_SUFFIXES, *SUFFIXES], type="filepath", elem_id="checkpoint",
                             scale=2, height=90)
        folder = gr.File(label="…or a Hugging Face model folder: its config.json and model.safetensors together",
                         file_types=[".json", ".safetensors"], file_count="multiple", type="filepath",
                         elem_id="model-folder", scale=1, height=90)
        # timm takes ~1.7 s to import: its list is read when the picker is first opened, not at start-up.
        timm_arch = gr.Dropdown([], value=None, label="…or a timm architecture", elem_id="timm-arch", scale=1,
                                allow_custom_value=True) if timm_installed() else None
    return checkpoint, folder, timm_arch


def _custom_fields(settings: AppSettings) -> tuple[gr.Group, list[gr.components.Component], gr.Button]:
    """Block type, blocks per stage, width, groups, stride placement (shown in Custom mode)."""
    d = get_preset(DEFAULT_SPEC)
    with gr.Group(visible=False, elem_id="custom-group") as custom:
        with gr.Row():
            block_type = gr.Radio(["bottleneck", "basic"], value=d.block, label="Block type", elem_id="block-type")
            stride_in = gr.Radio(["v1.5", "v1"], value="v1.5", label="Stride on (v1.5: 3×3, v1: first 1×1)",
                                 elem_id="stride-in")
        with gr.Row():
            depths = [gr.Slider(1, settings.limits.max_blocks_per_stage, value=n, step=1, label=f"layer{i} blocks",
                                elem_id=f"layer{i}-blocks") for i, n in enumerate(d.layers, start=1)]
        with gr.Row():
            width = gr.Slider(1, MAX_WIDTH_PER_GROUP, value=64, step=1, label="Width per group (64 = ResNet)",
                              elem_id="width-per-group")
            groups = gr.Slider(1, MAX_GROUPS, value=1, step=1, label="Groups (ResNeXt)", elem_id="groups")
            load_preset = gr.Button("Copy the picked preset into these fields", size="sm", elem_id="load-preset",
                                    scale=0, min_width=160)
    fields = outputs_of(h.CustomFields, block_type=block_type, layer1=depths[0], layer2=depths[1], layer3=depths[2],
                        layer4=depths[3], width=width, groups=groups, stride_in=stride_in)
    return custom, fields, load_preset


def build_controls(settings: AppSettings, landing: str = DEFAULT_SPEC, notice: str = "") -> Controls:
    """The model bar; ``landing`` is the model shown first (``notice`` says where it came from)."""
    limits = settings.limits
    with gr.Row():
        mode = gr.Radio(list(h.MODES), value="Preset", label="Model", elem_id="mode", scale=1)
        preset = gr.Dropdown([(p.title, n) for n, p in PRESETS.items()],
                             value=landing if landing in PRESETS else DEFAULT_SPEC, label="Preset",
                             elem_id="preset", scale=1)
        spec_box = gr.Textbox(landing, label="Model spec (type one and press Enter; the CLI takes the same)",
                              elem_id="spec", scale=2, max_lines=1,
                              info="e.g. resnet101, resnet50:v1, bottleneck:3-4-6-3:32x4d, bottleneck:2-2-2-2:c10")
        input_size = gr.Slider(MIN_INPUT_SIZE, limits.max_input_size, value=min(224, limits.max_input_size), step=1,
                               label=f"Input size (px, up to {limits.max_input_size})", elem_id="input-size", scale=1)
        batch = gr.Number(1, precision=0, minimum=1, maximum=MAX_BATCH, label="Batch size (memory figures)",
                          elem_id="batch-size", scale=1)
    checkpoint, folder, timm_arch = _sources(settings)
    source = gr.Markdown(notice, elem_id="model-source")
    opened = gr.State([landing, notice] if notice else None)
    custom, fields, load_preset = _custom_fields(settings)
    model = gr.Textbox(landing, visible=False, elem_id="model")
    return Controls(model, input_size, batch, spec_box, checkpoint, opened, source, mode, preset, fields, timm_arch,
                    load_preset, custom, folder)


def build_inspector() -> Inspector:
    """The block inspector, above the tabs: the selected block's code and facts, whichever tab is open."""
    with gr.Accordion("Block inspector", open=True, elem_id="inspector"):
        hub = gr.HTML(selection_html("", []), elem_id="selection", js_on_load=(ASSETS / "selection.js").read_text())
        with gr.Row():
            with gr.Column(scale=3):
                picker = gr.Dropdown([], value=None, label="Block", elem_id="inspector-block", allow_custom_value=True)
                facts = gr.Markdown(elem_id="inspector-facts")
            code = gr.HTML(code_html(""), elem_id="inspector-code", scale=2)
    selected = gr.Textbox("", visible=False, elem_id="selected-block")
    return Inspector(selected, picker, facts, code, hub)


def wire(page: Page) -> None:
    """The controls' own events: a typed spec, the preset copied into the custom fields, the mode, timm's
    picker. (A control moved redraws the views with its spec in one round trip: ``ui.wiring``.)"""
    c = page.controls
    gr.on([c.spec_box.submit, c.spec_box.blur], h.apply_spec, c.spec_box, c.applied, api_name="apply_spec",
          **events.private(trigger_mode="always_last"))
    c.load_preset.click(h.custom_from_preset, c.preset, c.fields, api_name="custom_from_preset", **events.PRIVATE) \
        .success(h.spec_from_controls, [*c.all, c.model], outputs_of(h.Spec, spec_box=c.spec_box, model=c.model),
                 **events.PRIVATE)
    c.mode.change(h.show_custom, c.mode, c.custom, api_name="show_custom", **events.PRIVATE)
    if c.timm_arch is not None:
        c.timm_arch.focus(h.timm_choices, None, c.timm_arch, api_name="timm_choices", **events.PRIVATE)
        c.timm_arch.input(h.pick_timm, c.timm_arch, c.applied, api_name="pick_timm", **events.PRIVATE)
