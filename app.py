"""ResNet Explorer: the Gradio UI. Thin handlers over ``explorer``; all logic lives there.

Run ``python app.py`` (127.0.0.1:7860 by default; see ``--help``).
"""
from __future__ import annotations

import argparse
import html
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import gradio as gr
from PIL import Image, PngImagePlugin

import explorer
import resnet.config
from explorer.compare import COMPARE_COLUMNS, compare_summary
from explorer.export import EXPORT_FORMATS, check_graph_options, rendered, write_export
from explorer.featuremaps import PNG_LEVEL, channel_figure, channel_grid, default_block, network_figure, overlay, top5
from explorer.graph import DIRECTIONS, LEVELS
from explorer.images import ImageError
from explorer.inference import get_capture, run_image
from explorer.limits import Limits, env_name
from explorer.render import DEFAULT_DPI, INSTALL_HINT, MAX_DPI, MIN_DPI, GraphvizMissing, dot_available
from explorer.views import BLOCK_ANALYTICS_COLUMNS, STAGE_STATS_COLUMNS, compare_views, structure_views, warm_presets
from resnet import PRESET_TITLES, PRESETS, CheckpointError, ResNetConfig, get_preset, parse_config
from resnet.config import MAX_GROUPS, MAX_WIDTH_PER_GROUP

ASSETS = Path(__file__).resolve().parent / "assets"
EXPORT_ROOT = Path(tempfile.gettempdir()) / "resnet-explorer-exports"
LEVEL_HELP = {"stages": "one node per stage", "blocks": "one node per residual block",
              "layers": "conv / BN / ReLU inside blocks", "ops": "torchview: every operation"}

DEFAULT_PRESET = "resnet50"
MODES = ("Preset", "Custom")


EXAMPLES = {p.stem: p for p in sorted((ASSETS / "examples").glob("*")) if p.suffix in (".jpg", ".png")}
IMAGE_TYPES = [".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"]
WEIGHT_CHOICES = [("random (seed 0)", "random"), ("torch hub cache", "hub"), ("uploaded checkpoint / --weights", "file")]


@dataclass
class AppSettings:
    device: str = "auto"
    weights: str | None = None  # --weights PATH: the default checkpoint for "file"
    limits: Limits = field(default_factory=explorer.limits.from_env)


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


def _checked(*controls: Any) -> tuple[ResNetConfig, int]:
    """Config and input size from the config controls, or a gr.Error naming what is wrong."""
    *ui, input_size = controls
    try:
        config = config_from_ui(*ui)
        size = _whole("input size", input_size)
        explorer.structure_trace(config, size)  # validates the size; cached for what follows
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid configuration") from None
    return config, size


def summarize(
    mode: str, preset: str, block: str, l1: float, l2: float, l3: float, l4: float,
    width_per_group: float, groups: float, stride_in: str, input_size: float,
) -> tuple[str, list[list[Any]], list[list[Any]]]:
    """Totals, per-stage and per-block tables for the controls' config."""
    config, size = _checked(mode, preset, block, l1, l2, l3, l4, width_per_group, groups, stride_in, input_size)
    trace = explorer.structure_trace(config, size)
    return explorer.totals_markdown(trace), explorer.stage_rows(trace), explorer.block_rows(trace)


def structure(
    mode: str, preset: str, block: str, l1: float, l2: float, l3: float, l4: float,
    width_per_group: float, groups: float, stride_in: str, input_size: float,
) -> tuple[Any, Any, Any, list[list[Any]], list[list[Any]]]:
    """Channel hourglass and ratios, stage transitions, cost shares, and the analytics tables."""
    config, size = _checked(mode, preset, block, l1, l2, l3, l4, width_per_group, groups, stride_in, input_size)
    v = structure_views(config, size)
    return v.channels, v.transitions, v.costs, v.stage_rows, v.block_rows


def compare_configs(
    mode: str, preset: str, block: str, l1: float, l2: float, l3: float, l4: float,
    width_per_group: float, groups: float, stride_in: str, input_size: float, other: str,
) -> tuple[str, list[list[Any]], Any, Any]:
    """The controls' config (A) against ``other`` (B: a preset or a spec such as bottleneck:3-4-6-3:32x4d)."""
    a, size = _checked(mode, preset, block, l1, l2, l3, l4, width_per_group, groups, stride_in, input_size)
    try:
        b = parse_config(other)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid comparison config") from None
    v = compare_views(a, b, size)
    return compare_summary(v.comparison), v.rows, v.channels, v.costs


EXPORT_MAX_AGE_S = 3600


def prune_outputs() -> None:
    """Remove response folders older than an hour, so temporary files do not pile up."""
    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in EXPORT_ROOT.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > EXPORT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def fresh_folder() -> Path:
    """A new private folder for one response's files."""
    prune_outputs()
    return Path(tempfile.mkdtemp(dir=EXPORT_ROOT))


def png_file(image: Any, name: str, run: str) -> str:
    """Write an image as PNG tagged with its run id. Identical images from concurrent runs would otherwise
    share one path in Gradio's content-addressed cache, and one request could read it mid-copy."""
    info = PngImagePlugin.PngInfo()
    info.add_text("resnet-explorer-run", f"{run}-{uuid.uuid4().hex}")
    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    path = fresh_folder() / f"{name}.png"
    img.save(path, pnginfo=info, compress_level=PNG_LEVEL)
    return str(path)


def _block_views(cid: str, block: str, k: float, channel: float) -> tuple[Any, str, Any, Any, Any]:
    """Grid, caption, zoomed channel, overlay and the across-network plot marking the block, for one block
    of a stored capture (no forward pass)."""
    try:
        cap = get_capture(cid)
    except KeyError as exc:
        raise gr.Error(str(exc.args[0]), title="Run expired") from None
    if block not in cap.maps:
        raise gr.Error(f"no block named {block!r} in this run; pick one of {', '.join(list(cap.maps)[:3])}, ...")
    grid, channels = channel_grid(cap, block, _whole("k", k))
    ch = _whole("channel", channel)
    ch = channels[0] if ch < 0 else ch
    try:
        zoom = channel_figure(cap, block, ch)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid channel") from None
    st = cap.stats(block)
    grid = png_file(grid, f"{cap.model_name}_{block}_top{len(channels)}", cid)
    caption = (f"**{block}** — top {len(channels)} of {st.channels} channels by mean activation "
               f"(row by row, strongest first): {', '.join(map(str, channels))}.  \n"
               f"zeros {st.zero_fraction:.1%} · dead channels {st.dead_channels} · mean {st.mean:.3g} ± {st.std:.3g} · "
               f"‖F(x)‖/‖shortcut‖ = {st.residual_ratio:.3g}" + (" · projection shortcut" if st.projection else ""))
    over = png_file(overlay(cap, block), f"{cap.model_name}_{block}_overlay", cid)
    return grid, caption, zoom, over, network_figure(cap, block)


def block_view(cid: str, block: str, k: float, channel: float) -> tuple[Any, str, Any, Any, Any]:
    """Switch block, k or channel on the last run."""
    if not cid:
        raise gr.Error("run an image first", title="No image yet")
    return _block_views(cid, block, k, channel)


def features(
    mode: str, preset: str, block: str, l1: float, l2: float, l3: float, l4: float,
    width_per_group: float, groups: float, stride_in: str, input_size: float,
    upload: str | None, example: str, weights: str, checkpoint: str | None, device: str, selected: str, k: float,
    progress: gr.Progress = gr.Progress(),
) -> tuple[Any, ...]:
    """Image -> crop -> one forward pass capturing every block -> the selected block's views and the
    across-network plot."""
    progress(0.05, desc="checking the configuration")
    config, _ = _checked(mode, preset, block, l1, l2, l3, l4, width_per_group, groups, stride_in, input_size)
    image = upload or (EXAMPLES.get(example) if example else None)
    if image is None:
        raise gr.Error(f"pick an example ({', '.join(EXAMPLES)}) or upload an image", title="No image")
    ckpt = checkpoint or SETTINGS.weights
    progress(0.2, desc="loading the model and the image, running every block")
    try:
        cid, cap, entry = run_image(config, image, weights, ckpt, device or SETTINGS.device)
    except ImageError as exc:
        raise gr.Error(str(exc), title="Cannot use this image") from None
    except CheckpointError as exc:
        raise gr.Error(str(exc), title="Cannot load these weights") from None
    except (ValueError, OSError) as exc:
        raise gr.Error(str(exc), title="Cannot run the image") from None
    progress(0.8, desc="drawing the views")
    chosen = selected if selected in cap.maps else default_block(cap)
    grid, caption, zoom, over, network = _block_views(cid, chosen, k, -1)
    notice = [f"Ran on **{cap.device}** · weights: {entry.label}", *cap.notices]
    try:
        predictions = top5(cap) if entry.real else {}
    except ValueError as exc:
        predictions, notice = {}, [*notice, str(exc)]
    choices = [(f"{b.name} · {'×'.join(map(str, cap.maps[b.name].shape))}{' · projection' if b.projection else ''}",
                b.name) for b in cap.blocks]
    return (cid, "  \n".join(notice), png_file(cap.crop, "crop", cid), gr.update(choices=choices, value=chosen),
            grid, caption, zoom, over, network, predictions)


def graph_html(svg: bytes) -> str:
    """Inline SVG in a pan/zoom frame (driven by assets/panzoom.js)."""
    text = svg.decode()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE
    return (
        '<div class="rx-graph"><div class="rx-toolbar">'
        '<button data-zoom="in" title="zoom in">+</button><button data-zoom="out" title="zoom out">−</button>'
        '<button data-zoom="fit" title="fit to view">fit</button></div>'
        f'<div class="rx-stage"><div class="rx-viewport">{text}</div></div>'
        '<div class="rx-hint">wheel: zoom · drag: pan · double-click: fit</div></div>'
    )


def notice_html(message: str) -> str:
    return f'<div class="rx-notice">{html.escape(message)}</div>'


def _graph_options(level: str, direction: str) -> None:
    try:
        check_graph_options(level, direction)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid graph options") from None


def show_graph(
    mode: str, preset: str, block: str, l1: float, l2: float, l3: float, l4: float,
    width_per_group: float, groups: float, stride_in: str, input_size: float,
    level: str, direction: str, collapse: bool,
) -> str:
    """The architecture graph as zoomable SVG, or a notice saying how to install Graphviz."""
    config, size = _checked(mode, preset, block, l1, l2, l3, l4, width_per_group, groups, stride_in, input_size)
    _graph_options(level, direction)
    try:
        return graph_html(rendered(config, size, level, direction, bool(collapse)))
    except GraphvizMissing:
        gr.Warning(INSTALL_HINT)
        return notice_html(INSTALL_HINT)


def make_export(fmt: str) -> Callable[..., str]:
    """The download handler for one format; files land in a fresh folder under a server-chosen name."""

    def export(
        mode: str, preset: str, block: str, l1: float, l2: float, l3: float, l4: float,
        width_per_group: float, groups: float, stride_in: str, input_size: float,
        level: str, direction: str, collapse: bool, dpi: float,
    ) -> str:
        config, size = _checked(mode, preset, block, l1, l2, l3, l4, width_per_group, groups, stride_in, input_size)
        _graph_options(level, direction)
        try:
            prune_outputs()
            path = write_export(config, fmt, root=EXPORT_ROOT, input_size=size, level=level, direction=direction,
                                collapse=bool(collapse), dpi=_whole("DPI", dpi))
        except GraphvizMissing:
            raise gr.Error(INSTALL_HINT, title="Graphviz is not installed") from None
        except ValueError as exc:
            raise gr.Error(str(exc), title="Cannot export") from None
        return str(path)

    export.__name__ = f"export_{fmt}"
    return export


def show_custom(mode: str) -> Any:
    return gr.update(visible=mode == "Custom")


def custom_from_preset(preset: str) -> tuple[Any, ...]:
    """Copy a preset's structure into the custom fields (an explicit button: no race with the user's edits)."""
    c = get_preset(preset)
    return (c.block, *c.layers, c.width_per_group, c.groups, c.stride_in)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="ResNet Explorer") as demo:
        gr.Markdown("# ResNet Explorer\nToggle depth configs and see every residual block's shapes, "
                    "downsample paths and cost.", elem_id="intro")
        with gr.Row():
            mode = gr.Radio(list(MODES), value="Preset", label="Model", elem_id="mode")
            preset = gr.Dropdown([(PRESET_TITLES[n], n) for n in PRESETS], value=DEFAULT_PRESET,
                                 label="Preset", elem_id="preset")
            input_size = gr.Slider(explorer.MIN_INPUT_SIZE, explorer.structure.MAX_INPUT_SIZE, value=224, step=1,
                                   label="Input size (px)", elem_id="input-size")
        d = get_preset(DEFAULT_PRESET)
        with gr.Group(visible=False, elem_id="custom-group") as custom:
            with gr.Row():
                block = gr.Radio(["bottleneck", "basic"], value=d.block, label="Block type", elem_id="block-type")
                stride_in = gr.Radio(["v1.5", "v1"], value="v1.5", label="Stride on (v1.5: 3×3, v1: first 1×1)",
                                     elem_id="stride-in")
            with gr.Row():
                depths = [gr.Slider(1, resnet.config.MAX_BLOCKS_PER_STAGE, value=n, step=1, label=f"layer{i} blocks",
                                    elem_id=f"layer{i}-blocks") for i, n in enumerate(d.layers, start=1)]
            with gr.Row():
                width = gr.Slider(1, MAX_WIDTH_PER_GROUP, value=64, step=1, label="Width per group (64 = ResNet)",
                                  elem_id="width-per-group")
                groups = gr.Slider(1, MAX_GROUPS, value=1, step=1, label="Groups (ResNeXt)", elem_id="groups")
                load_preset = gr.Button("Copy the picked preset into these fields", size="sm",
                                        elem_id="load-preset", scale=0, min_width=160)
        totals = gr.Markdown(elem_id="totals")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Tables", id="tables", elem_id="tab-tables"):
                stages = gr.Dataframe(headers=list(explorer.STAGE_COLUMNS), label="Stages", elem_id="stage-table",
                                      interactive=False)
                blocks = gr.Dataframe(headers=list(explorer.BLOCK_COLUMNS), label="Blocks", elem_id="block-table",
                                      interactive=False, max_height=600)
            with gr.Tab("Channels & structure", id="structure", elem_id="tab-structure"):
                channel_plot = gr.Plot(label="Channels per block", elem_id="channel-plot")
                transition_plot = gr.Plot(label="Resolution vs channels", elem_id="transition-plot")
                with gr.Row():
                    cost_plot = gr.Plot(label="Cost per stage", elem_id="cost-plot", scale=1)
                stats_table = gr.Dataframe(headers=list(STAGE_STATS_COLUMNS), label="Per stage (receptive field in px)",
                                           elem_id="stats-table", interactive=False)
                analytics_table = gr.Dataframe(headers=list(BLOCK_ANALYTICS_COLUMNS), label="Per block",
                                               elem_id="analytics-table", interactive=False, max_height=500)
            with gr.Tab("Compare", id="compare", elem_id="tab-compare"):
                other = gr.Dropdown([(PRESET_TITLES[n], n) for n in PRESETS], value="resnet101", allow_custom_value=True,
                                    label="Compare the config above (A) with B",
                                    info="a preset, or type block:L1-L2-L3-L4[:GxWd][:v1], e.g. bottleneck:3-4-6-3:32x4d",
                                    elem_id="compare-other")
                compare_md = gr.Markdown(elem_id="compare-summary")
                compare_table = gr.Dataframe(headers=list(COMPARE_COLUMNS), label="Per stage, A vs B",
                                             elem_id="compare-table", interactive=False)
                compare_channels = gr.Plot(label="Channels along the depth", elem_id="compare-channels")
                compare_costs = gr.Plot(label="Cost per stage", elem_id="compare-costs")
            with gr.Tab("Feature maps", id="features", elem_id="tab-features"):
                capture_id = gr.State("")
                with gr.Row():
                    with gr.Column(scale=1):
                        example = gr.Dropdown(list(EXAMPLES), value="cat", label="Example image", elem_id="fm-example")
                        upload = gr.File(label="…or upload an image (JPEG, PNG, WebP, BMP, GIF, TIFF)",
                                         file_types=IMAGE_TYPES, type="filepath", elem_id="fm-upload")
                        weights = gr.Radio(WEIGHT_CHOICES, value="file" if SETTINGS.weights else "random",
                                           label="Weights", elem_id="fm-weights")
                        checkpoint = gr.File(label="Checkpoint (.pth state dict or .safetensors)",
                                             file_types=[".pth", ".pt", ".safetensors", ".bin"], type="filepath",
                                             elem_id="fm-checkpoint")
                        device = gr.Radio(["auto", "cpu", "cuda", "mps"], value=SETTINGS.device, label="Device",
                                          elem_id="fm-device")
                        run_button = gr.Button("Run image", variant="primary", elem_id="fm-run")
                    with gr.Column(scale=1):
                        crop = gr.Image(label="What the network sees (the exact crop)", format="png",
                                        interactive=False, elem_id="fm-crop", height=300)
                        predictions = gr.Label(num_top_classes=5, label="Top-5 predictions (trained weights only)",
                                               elem_id="fm-predictions")
                notice = gr.Markdown(elem_id="fm-notice")
                with gr.Row():
                    fm_block = gr.Dropdown([], label="Block", elem_id="fm-block", allow_custom_value=True)
                    k = gr.Slider(1, 64, value=16, step=1, label="Channels in the grid (top-k)", elem_id="fm-k")
                    channel = gr.Number(-1, precision=0, label="Zoom on channel (-1: the strongest)",
                                        elem_id="fm-channel")
                grid_caption = gr.Markdown(elem_id="fm-caption")
                with gr.Row():
                    grid = gr.Image(label="Top-k channels (each normalised to its own range)", format="png",
                                    interactive=False, elem_id="fm-grid")
                    over = gr.Image(label="Mean activation over the input", format="png", interactive=False,
                                    elem_id="fm-overlay")
                zoom = gr.Plot(label="One channel", elem_id="fm-zoom")
                network = gr.Plot(label="Across the network", elem_id="fm-network")
            with gr.Tab("Graph", id="graph", elem_id="tab-graph"):
                if not dot_available():
                    gr.HTML(notice_html(INSTALL_HINT), elem_id="graphviz-notice")
                with gr.Row():
                    level = gr.Radio([(f"{lv} ({LEVEL_HELP[lv]})", lv) for lv in LEVELS], value="blocks",
                                     label="Level", elem_id="graph-level", scale=3)
                    direction = gr.Radio([(v, k) for k, v in DIRECTIONS.items()], value="TB", label="Direction",
                                         elem_id="graph-direction", scale=1)
                    collapse = gr.Checkbox(False, label="Fold repeated blocks (×N)", elem_id="graph-collapse",
                                           scale=1)
                graph = gr.HTML(elem_id="graph", js_on_load=(ASSETS / "panzoom.js").read_text(), min_height=420)
                with gr.Row(elem_id="export-row"):
                    export_buttons = {fmt: gr.Button(fmt.upper(), size="sm", elem_id=f"export-{fmt}", min_width=60)
                                      for fmt in EXPORT_FORMATS}
                    dpi = gr.Slider(MIN_DPI, MAX_DPI, value=DEFAULT_DPI, step=1, label="PNG DPI (72 = 1 px per pt)",
                                    elem_id="png-dpi", scale=2)
                export_file = gr.File(label="Download", elem_id="export-file", interactive=False)

        inputs = [mode, preset, block, *depths, width, groups, stride_in, input_size]
        graph_inputs = [*inputs, level, direction, collapse]
        mode.change(show_custom, mode, custom, api_visibility="private", api_name="show_custom")
        load_preset.click(custom_from_preset, preset, [block, *depths, width, groups, stride_in],
                          api_visibility="private", api_name="custom_from_preset")
        gr.on([demo.load, *(c.change for c in inputs)], summarize, inputs, [totals, stages, blocks],
              api_name="summarize", concurrency_limit=2, show_progress="minimal",
              trigger_mode="always_last")
        gr.on([demo.load, *(c.change for c in graph_inputs)], show_graph, graph_inputs, graph,
              api_name="graph", concurrency_limit=2, show_progress="minimal", trigger_mode="always_last")
        gr.on([demo.load, *(c.change for c in inputs)], structure, inputs,
              [channel_plot, transition_plot, cost_plot, stats_table, analytics_table], api_name="structure",
              concurrency_limit=2, show_progress="minimal", trigger_mode="always_last")
        gr.on([demo.load, other.change, *(c.change for c in inputs)], compare_configs, [*inputs, other],
              [compare_md, compare_table, compare_channels, compare_costs], api_name="compare",
              concurrency_limit=2, show_progress="minimal", trigger_mode="always_last")
        fm_inputs = [*inputs, upload, example, weights, checkpoint, device, fm_block, k]
        fm_outputs = [capture_id, notice, crop, fm_block, grid, grid_caption, zoom, over, network, predictions]
        gr.on([run_button.click, upload.change, example.change, weights.change, checkpoint.change, device.change],
              features, fm_inputs, fm_outputs, api_name="features", concurrency_limit=1, trigger_mode="always_last")
        gr.on([fm_block.input, k.change, channel.submit], block_view, [capture_id, fm_block, k, channel],
              [grid, grid_caption, zoom, over, network], api_name="block_view", concurrency_limit=2,
              show_progress="minimal", trigger_mode="always_last")
        for fmt, button in export_buttons.items():
            button.click(make_export(fmt), [*graph_inputs, dpi], export_file, api_name=f"export_{fmt}",
                         concurrency_limit=2)
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="ResNet Explorer web app")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--device", default="auto", help="where activations run: auto, cpu, cuda, mps")
    p.add_argument("--weights", default=None, help="checkpoint for the feature maps (torchvision .pth or .safetensors)")
    p.add_argument("--inbrowser", action="store_true", help="open a browser tab")
    defaults = explorer.limits.from_env()
    for f in fields(Limits):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=getattr(defaults, f.name),
                       help=f"limit (default {getattr(defaults, f.name)}; env {env_name(f.name)})")
    return p.parse_args(argv)


CSS = (ASSETS / "app.css").read_text()


def launch_options() -> dict[str, Any]:
    """Options every launch uses (the tests' too): styles, one-line error messages, the upload limit."""
    limits = SETTINGS.limits
    return {"css": CSS, "show_error": True,
            "max_file_size": int(max(limits.max_upload_mb, limits.max_checkpoint_mb) * 2**20)}
demo = build_demo()

if __name__ == "__main__":
    if "MALLOC_ARENA_MAX" not in os.environ:
        # glibc gives every worker thread its own heap, which keeps freed model and activation memory;
        # two arenas keep the server's memory on a plateau under concurrent use (see benchmarks/load.py).
        os.environ["MALLOC_ARENA_MAX"] = "2"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    args = parse_args()
    try:
        SETTINGS.device = explorer.resolve_device(args.device).type
        if args.weights and not Path(args.weights).is_file():
            raise ValueError(f"--weights: no such file {args.weights}")
        SETTINGS.weights = args.weights
        SETTINGS.limits = explorer.limits.apply(Limits(**{f.name: getattr(args, f.name) for f in fields(Limits)}))
    except (ValueError, RuntimeError) as exc:
        raise SystemExit(f"error: {exc}") from None
    warm_presets()
    demo = build_demo()  # again, now that the flags are known
    demo.queue(default_concurrency_limit=2, max_size=64).launch(server_name=args.host, server_port=args.port,
                                                                inbrowser=args.inbrowser, **launch_options())
