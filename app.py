"""ResNet Explorer: the Gradio UI. Thin handlers over ``explorer``; all logic lives there.

Run ``python app.py`` (127.0.0.1:7860 by default; see ``--help``).
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

import gradio as gr

import explorer
from resnet import MAX_BLOCKS_PER_STAGE, PRESET_TITLES, PRESETS, ResNetConfig, get_preset
from resnet.config import MAX_GROUPS, MAX_WIDTH_PER_GROUP

DEFAULT_PRESET = "resnet50"
MODES = ("Preset", "Custom")


@dataclass
class AppSettings:
    device: str = "auto"


SETTINGS = AppSettings()


def _whole(name: str, value: Any) -> int:
    """UI numbers arrive as floats; accept whole numbers only, with a message naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if float(value) != int(value):
        raise ValueError(f"{name} must be a whole number, got {value}")
    return int(value)


def config_from_ui(
    mode: str, preset: str, block: str, l1: float, l2: float, l3: float, l4: float,
    width_per_group: float, groups: float, stride_in: str,
) -> ResNetConfig:
    """The config the controls describe: the picked preset, or the custom fields."""
    if mode == "Preset":
        return get_preset(preset)
    if mode != "Custom":
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    layers = tuple(_whole(f"blocks in layer{i}", v) for i, v in enumerate((l1, l2, l3, l4), start=1))
    return ResNetConfig(
        block=block, layers=layers,  # type: ignore[arg-type]
        width_per_group=_whole("width per group", width_per_group), groups=_whole("groups", groups),
        stride_in=stride_in,  # type: ignore[arg-type]
    )


def summarize(
    mode: str, preset: str, block: str, l1: float, l2: float, l3: float, l4: float,
    width_per_group: float, groups: float, stride_in: str, input_size: float,
) -> tuple[str, list[list[Any]], list[list[Any]]]:
    """Totals, per-stage and per-block tables for the controls' config."""
    try:
        config = config_from_ui(mode, preset, block, l1, l2, l3, l4, width_per_group, groups, stride_in)
        trace = explorer.structure_trace(config, _whole("input size", input_size))
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid configuration") from None
    return explorer.totals_markdown(trace), explorer.stage_rows(trace), explorer.block_rows(trace)


def custom_from_preset(mode: str, preset: str) -> tuple[Any, ...]:
    """When switching to Custom, start the custom fields from the current preset."""
    visible = gr.update(visible=mode == "Custom")
    if mode != "Custom":
        return (visible,) + (gr.update(),) * 7
    c = get_preset(preset)
    return (visible, c.block, *c.layers, c.width_per_group, c.groups, c.stride_in)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="ResNet Explorer") as demo:
        gr.Markdown("# ResNet Explorer\nToggle depth configs and see every residual block's shapes, "
                    "downsample paths and cost.", elem_id="intro")
        with gr.Row():
            mode = gr.Radio(list(MODES), value="Preset", label="Model", elem_id="mode")
            preset = gr.Dropdown([(PRESET_TITLES[n], n) for n in PRESETS], value=DEFAULT_PRESET,
                                 label="Preset", elem_id="preset")
            input_size = gr.Slider(explorer.MIN_INPUT_SIZE, explorer.MAX_INPUT_SIZE, value=224, step=1,
                                   label="Input size (px)", elem_id="input-size")
        d = get_preset(DEFAULT_PRESET)
        with gr.Group(visible=False, elem_id="custom-group") as custom:
            with gr.Row():
                block = gr.Radio(["bottleneck", "basic"], value=d.block, label="Block type", elem_id="block-type")
                stride_in = gr.Radio(["v1.5", "v1"], value="v1.5", label="Stride on (v1.5: 3×3, v1: first 1×1)",
                                     elem_id="stride-in")
            with gr.Row():
                depths = [gr.Slider(1, MAX_BLOCKS_PER_STAGE, value=n, step=1, label=f"layer{i} blocks",
                                    elem_id=f"layer{i}-blocks") for i, n in enumerate(d.layers, start=1)]
            with gr.Row():
                width = gr.Slider(1, MAX_WIDTH_PER_GROUP, value=64, step=1, label="Width per group (64 = ResNet)",
                                  elem_id="width-per-group")
                groups = gr.Slider(1, MAX_GROUPS, value=1, step=1, label="Groups (ResNeXt)", elem_id="groups")
        totals = gr.Markdown(elem_id="totals")
        stages = gr.Dataframe(headers=list(explorer.STAGE_COLUMNS), label="Stages", elem_id="stage-table",
                              interactive=False)
        blocks = gr.Dataframe(headers=list(explorer.BLOCK_COLUMNS), label="Blocks", elem_id="block-table",
                              interactive=False, max_height=600)

        inputs = [mode, preset, block, *depths, width, groups, stride_in, input_size]
        mode.change(custom_from_preset, [mode, preset], [custom, block, *depths, width, groups, stride_in],
                    api_visibility="private", api_name="custom_from_preset")
        gr.on([demo.load, *(c.change for c in inputs)], summarize, inputs, [totals, stages, blocks],
              api_name="summarize", concurrency_limit=2, show_progress="minimal",
              trigger_mode="always_last")
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="ResNet Explorer web app")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--device", default="auto", help="where activations run: auto, cpu, cuda, mps")
    p.add_argument("--inbrowser", action="store_true", help="open a browser tab")
    return p.parse_args(argv)


demo = build_demo()

if __name__ == "__main__":
    args = parse_args()
    try:
        SETTINGS.device = str(explorer.resolve_device(args.device))
    except (ValueError, RuntimeError) as exc:
        raise SystemExit(f"error: {exc}") from None
    demo.queue(default_concurrency_limit=2).launch(server_name=args.host, server_port=args.port,
                                                   inbrowser=args.inbrowser)
