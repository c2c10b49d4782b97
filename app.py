"""ResNet Explorer: the Gradio UI. Thin handlers over ``explorer``; all logic lives there.

Run ``python app.py`` (127.0.0.1:7860 by default; see ``--help``). One value names the model everywhere: the
model spec (``resnet50``, ``bottleneck:3-4-6-3:32x4d:v1``), computed from the controls or typed by the user,
and taken by every handler and API endpoint: ``client.predict("resnet50", 224, api_name="/summarize")``.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields
from typing import Any

from explorer.limits import MIN_INPUT_SIZE, LimitError, Limits, env_name, flag_name


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The app's flags; a bad flag or environment variable exits with one line naming it."""
    p = _Parser(description="ResNet Explorer web app")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--device", default="auto", help="where activations run: auto, cpu, cuda, mps")
    p.add_argument("--weights", default=None, help="checkpoint for the feature maps (torchvision .pth or .safetensors)")
    p.add_argument("--inbrowser", action="store_true", help="open a browser tab")
    for f in fields(Limits):
        p.add_argument(flag_name(f.name), type=float, default=None, metavar="N",
                       help=f"limit (default {f.default}; env {env_name(f.name)})")
    args = p.parse_args(argv)
    given = {f.name: getattr(args, f.name) for f in fields(Limits) if getattr(args, f.name) is not None}
    try:
        args.limits = Limits.from_env(**given)
    except LimitError as exc:
        p.error(str(exc) if str(exc).startswith("RESNET_EXPLORER_") else f"{flag_name(exc.field)} {exc}")
    return args


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """glibc gives every worker thread its own heap, which keeps freed model and activation memory; two
    arenas keep the server's memory on a plateau under concurrent use (see benchmarks/load.py). Set in
    process (glibc's mallopt, before any thread starts), so start-up needs no second interpreter."""
    if "MALLOC_ARENA_MAX" in os.environ:  # the user's own setting, which glibc has already read
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").mallopt(-8, arenas))  # -8: M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to limit
        return False


if __name__ == "__main__":
    limit_malloc_arenas()
    ARGS = parse_args()  # --help and bad flags answer before gradio and torch are imported

# The heavy imports come after the flags, so `python app.py --help` answers at once.
import functools  # noqa: E402
import gc  # noqa: E402
import html  # noqa: E402
import threading  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, PngImagePlugin  # noqa: E402

# What building the page needs: no torch (it takes ~1.4 s to import; the page is served first).
from explorer.features.images import ImageError  # noqa: E402
from explorer.features.methods import GRADIENT_FREE, METHODS  # noqa: E402
from explorer.figures import STYLES  # noqa: E402
from explorer.figures.paper import SIZES, UNITS  # noqa: E402
from explorer.figures.themes import THEMES  # noqa: E402
from explorer.files import fresh_folder  # noqa: E402
from explorer.graph.dot import DIRECTIONS  # noqa: E402
from explorer.graph.formats import EXPORT_FORMATS  # noqa: E402
from explorer.graph.levels import LEVELS  # noqa: E402
from explorer.graph.render import DEFAULT_DPI, INSTALL_HINT, MAX_DPI, MIN_DPI, GraphvizMissing, dot_available  # noqa: E402
from explorer.limits import ModelTooLarge  # noqa: E402
from explorer.models import (CHECKPOINT_SUFFIXES, Model, TimmModel, meta_model, open_checkpoint,  # noqa: E402
                             parse_model, timm_architectures, timm_installed)
from explorer.structure.analysis import BLOCK_ANALYTICS_COLUMNS, STAGE_STATS_COLUMNS  # noqa: E402
from explorer.structure.compare import COMPARE_COLUMNS, compare_summary  # noqa: E402
from explorer.structure.memory import MAX_BATCH, MEMORY_COLUMNS, check_batch, memory_markdown, memory_rows  # noqa: E402
from explorer.structure.tables import (BLOCK_COLUMNS, BLOCK_MEMORY_COLUMNS, STAGE_COLUMNS, block_rows,  # noqa: E402
                                       readable, stage_rows, totals_markdown)
from explorer.tracing.records import Trace, format_shape  # noqa: E402
from resnet import PRESETS, ResNetConfig, WeightsInfo, get_preset, parse_spec  # noqa: E402
from resnet.config import MAX_GROUPS, MAX_WIDTH_PER_GROUP  # noqa: E402
from resnet.presets import preset_of  # noqa: E402

# What the handlers need besides: torch and everything built on it. ``load_heavy`` imports it into this
# module: at import (tests, ``import app``), or, for ``python app.py``, once the page is served; a request
# that comes first waits for it.
_HEAVY_LOCK = threading.Lock()
_heavy_loaded = False


def load_heavy() -> None:
    """Import the handlers' modules (once; concurrent callers wait for the first) and make the feature store."""
    global _heavy_loaded, STORE
    global check_method, parse_target, RANDOM_CAM_NOTICE, cam_figure, cam_overlay, cam_strip, RANDOM_NOTICE
    global FeatureStore, PNG_LEVEL, block_facts, channel_grid, channel_zoom_figure, default_block, label_names
    global network_figure, overlay, read_labels, top5, check_graph_options, export_bytes, rendered, write_export
    global highlight_block, memory_figure, inspect_block, inspection_markdown, compare_views, structure_views
    global warm_presets, resolve_device, structure_trace, CheckpointError, find_cached, DownloadError, download
    global state_size
    if _heavy_loaded:
        return
    with _HEAVY_LOCK:
        if _heavy_loaded:
            return
        from explorer.features.cam import check_method, parse_target
        from explorer.features.cam_views import RANDOM_CAM_NOTICE, cam_figure, cam_overlay, cam_strip
        from explorer.features.store import RANDOM_NOTICE, FeatureStore
        from explorer.features.views import (PNG_LEVEL, block_facts, channel_grid, channel_zoom_figure,
                                             default_block, label_names, network_figure, overlay, read_labels, top5)
        from explorer.graph.export import check_graph_options, export_bytes, rendered, write_export
        from explorer.structure.figures import highlight_block, memory_figure
        from explorer.structure.inspector import inspect_block, inspection_markdown
        from explorer.structure.views import compare_views, structure_views, warm_presets
        from explorer.tracing import resolve_device, structure_trace
        from resnet import CheckpointError, find_cached
        from resnet.download import DownloadError, download, state_size

        STORE = FeatureStore(SETTINGS.limits)
        _heavy_loaded = True


def _after_heavy(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, once the handlers' modules are loaded (its signature kept: Gradio reads it for event data)."""
    @functools.wraps(fn)
    def handler(*args: Any, **kwargs: Any) -> Any:
        load_heavy()
        return fn(*args, **kwargs)

    return handler


ASSETS = Path(__file__).resolve().parent / "assets"
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "resnet-explorer-outputs"
LEVEL_HELP = {"stages": "one node per stage", "blocks": "one node per residual block",
              "layers": "conv / BN / ReLU inside blocks", "ops": "torchview: every operation"}
DEFAULT_SPEC = "resnet50"
MODES = ("Preset", "Custom")
EXAMPLES = {p.stem: p for p in sorted((ASSETS / "examples").glob("*")) if p.suffix in (".jpg", ".png")}
IMAGE_TYPES = [".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"]
WEIGHT_CHOICES = [("random (seed 0)", "random"), ("torch hub cache", "hub"), ("uploaded checkpoint / --weights", "file")]


@dataclass
class AppSettings:
    device: str = "auto"
    weights: str | None = None  # --weights PATH: the default checkpoint for "file"
    limits: Limits = field(default_factory=Limits)


SETTINGS = AppSettings()
STORE: Any = None  # the FeatureStore, made by load_heavy


def configure(settings: AppSettings) -> None:
    """Use ``settings`` from now on (flags at start-up; tests): the feature store is sized by its limits."""
    global SETTINGS, STORE
    SETTINGS = settings
    if _heavy_loaded:
        STORE = FeatureStore(settings.limits)


def _whole(name: str, value: Any) -> int:
    """UI numbers arrive as floats; accept whole numbers only, with a message naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
        raise gr.Error(f"{name} must be a whole number, got {value!r}", title="Invalid value")
    return int(value)


def model_config(spec: str) -> Model:
    """The model a spec names (ours, or timm's with timm installed), within the limits; a gr.Error naming what
    is wrong otherwise."""
    try:
        config = parse_model(spec)
        if isinstance(config, ResNetConfig):
            SETTINGS.limits.check_depths(config.layers)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid model") from None
    return config


def batch_size(value: Any) -> int:
    try:
        return check_batch(value)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid batch size") from None


def model_and_size(spec: str, input_size: Any) -> tuple[ResNetConfig, int]:
    config = model_config(spec)
    try:
        return config, SETTINGS.limits.check_input_size(input_size)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid input size") from None


# ---- the spec and the controls ---------------------------------------------------------------------------------

def spec_from_controls(mode: str, preset: str, block_type: str, l1: float, l2: float, l3: float, l4: float,
                       width_per_group: float, groups: float, stride_in: str, current: str) -> tuple[str, str]:
    """The spec the controls describe. Options the controls do not show (dilation, classes, zero-init) carry
    over from the current spec. Returned twice: for the spec box and for the applied model."""
    try:
        kept = parse_spec(current)
    except ValueError:
        kept = ResNetConfig()
    try:
        if mode == "Preset":
            base = replace(get_preset(preset), stride_in=kept.stride_in)
        elif mode == "Custom":
            layers = tuple(_whole(f"blocks in layer{i}", v) for i, v in enumerate((l1, l2, l3, l4), start=1))
            base = ResNetConfig(block=block_type, layers=layers, width_per_group=_whole("width per group", width_per_group),
                                groups=_whole("groups", groups), stride_in=stride_in)
        else:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        dilation = kept.replace_stride_with_dilation if base.block == "bottleneck" else (False, False, False)
        config = replace(base, replace_stride_with_dilation=dilation, num_classes=kept.num_classes,
                         zero_init_residual=kept.zero_init_residual)
        SETTINGS.limits.check_depths(config.layers)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid configuration") from None
    return config.spec, config.spec


def apply_spec(text: str) -> tuple[Any, ...]:
    """A typed spec: its canonical form, applied, and the controls set to show it (a timm model leaves them)."""
    config = model_config(text)
    if not isinstance(config, ResNetConfig):
        return (config.spec, config.spec, *(gr.update() for _ in range(10)))
    preset = preset_of(config)  # same block, depths and widths; the other options show in the spec
    return (config.spec, config.spec, "Preset" if preset else "Custom", preset.name if preset else gr.update(),
            config.block, *config.layers, config.width_per_group, config.groups, config.stride_in)


def pick_timm(name: str | None) -> tuple[Any, ...]:
    """A timm architecture picked (or typed); leaving the picker empty changes nothing."""
    return apply_spec(f"timm:{name}") if name else (gr.skip(),) * 12


def open_checkpoint_file(path: str | None) -> tuple[Any, ...]:
    """An uploaded checkpoint switches the whole UI to the model it holds (architecture inferred from the
    tensors) with its weights: the spec, the applied model, the weights choice and a notice saying so."""
    if not path:
        raise gr.Error("choose a checkpoint file", title="No checkpoint")
    try:
        opened = open_checkpoint(path, max_bytes=SETTINGS.limits.checkpoint_bytes)
    except CheckpointError as exc:
        raise gr.Error(str(exc), title="Cannot open this checkpoint") from None
    spec = opened.model.spec
    return spec, spec, "file", [spec, f"**Model {opened.notice}**; its weights run in the Feature maps tab."]


def custom_from_preset(preset: str) -> tuple[Any, ...]:
    """Copy a preset's structure into the custom fields (an explicit button: no race with the user's edits)."""
    c = get_preset(preset)
    return (c.block, *c.layers, c.width_per_group, c.groups, c.stride_in)


def show_custom(mode: str) -> Any:
    return gr.update(visible=mode == "Custom")


# ---- structure: tables, analytics, compare ---------------------------------------------------------------------

def summarize(spec: str, input_size: float, batch: float = 1) -> tuple[str, list[list[Any]], list[list[Any]],
                                                                      list[list[Any]]]:
    """Totals, per-stage and per-block tables, and memory per stage at ``batch`` images (computed on the meta
    device: no config is too large to show)."""
    trace = structure_trace(*model_and_size(spec, input_size))
    n = batch_size(batch)
    return (totals_text(spec, input_size, batch), readable(stage_rows(trace)), readable(block_rows(trace, n)),
            memory_rows(trace, n))


def totals_text(spec: str, input_size: float, batch: float = 1) -> str:
    """The totals line over the tabs: shapes, blocks, parameters, MACs and memory at ``batch`` images."""
    trace = structure_trace(*model_and_size(spec, input_size))
    n = batch_size(batch)
    return f"{totals_markdown(trace)}  \n{memory_markdown(trace, n)}"


def structure(spec: str, input_size: float, batch: float = 1, selected: str = "") -> tuple[Any, ...]:
    """Channel hourglass and ratios (the selected block marked), stage transitions, cost shares, memory per part,
    and the analytics tables."""
    config, size = model_and_size(spec, input_size)
    v = structure_views(config, size)
    memory = memory_figure(structure_trace(config, size), batch_size(batch))
    return (highlight_block(v.channels, selected), v.transitions, v.costs, memory, readable(v.stage_stats),
            readable(v.block_analytics))


def compare_models(spec: str, input_size: float, other: str) -> tuple[str, list[list[Any]], Any, Any]:
    """The model (A) against ``other`` (B: another spec, e.g. resnet101 or bottleneck:3-4-6-3:32x4d)."""
    a, size = model_and_size(spec, input_size)
    v = compare_views(a, model_config(other), size)
    return compare_summary(v.comparison), readable(v.rows), v.channels, v.costs


# ---- one selected block: the inspector, and every view following it ------------------------------------------

def selection_html(block: str, blocks: list[str]) -> str:
    """What the selection component shows; its data attributes drive the highlighting (assets/selection.js)."""
    return (f'<div class="rx-selection" data-block="{html.escape(block)}" data-blocks="{html.escape(" ".join(blocks))}">'
            f'Selected block: <b>{html.escape(block)}</b> <span class="rx-hint">— click a block in the graph, a row of '
            "the block tables, a bar or point of the channel and activation plots, or pick one here</span></div>")


def code_html(code: str) -> str:
    """The inspector's code: monochrome with comments dimmed (every colour passes WCAG AA contrast), focusable
    so a keyboard can scroll it."""
    lines = "\n".join(f'<span class="rx-comment">{html.escape(line)}</span>' if line.startswith("#")
                      else html.escape(line) for line in code.splitlines())
    return (f'<div class="rx-code-title">The code that builds it</div><pre class="rx-code" tabindex="0" '
            f'aria-label="the code that builds the selected block"><code>{lines}</code></pre>')


def _module_of(config: Model, name: str) -> Any:
    """The block as a module (meta device), for models whose code we show as their repr."""
    return _meta_timm(config).get_submodule(name) if isinstance(config, TimmModel) else None


@functools.lru_cache(maxsize=4)
def _meta_timm(config: TimmModel) -> Any:
    """A timm model on the meta device, kept while its blocks are being clicked through (30+ ms to build)."""
    return meta_model(config)


def select_block(spec: str, input_size: float, name: str, cid: str = "") -> tuple[Any, ...]:
    """Select ``name`` everywhere: the inspector (its code and facts, and what the last image did in it), the
    block pickers, and the highlight in the graph, the tables and the plots."""
    config, size = model_and_size(spec, input_size)
    trace = structure_trace(config, size)
    blocks = [b.name for b in trace.blocks]
    if name not in blocks:
        raise gr.Error(f"no block named {name!r} in {trace.model_name}; its blocks are {blocks[0]} … {blocks[-1]}",
                       title="Unknown block")
    inspection = inspect_block(trace, name, _module_of(config, name))
    try:
        cap = STORE.capture(cid) if cid else None
    except KeyError:
        cap = None
    if cap is not None and cap.model_name == trace.model_name and name in cap.maps:
        inspection = replace(inspection, activations=block_facts(cap, name))
    return (name, gr.update(choices=blocks, value=name), inspection_markdown(inspection, trace),
            code_html(inspection.code), selection_html(name, blocks))


def keep_selection(spec: str, input_size: float, name: str, cid: str = "") -> tuple[Any, ...]:
    """A new model or input size: the same block where it still exists, else the first block."""
    config, size = model_and_size(spec, input_size)
    blocks = [b.name for b in structure_trace(config, size).blocks]
    return select_block(spec, input_size, name if name in blocks else blocks[0], cid)


def select_from_page(spec: str, input_size: float, cid: str, evt: gr.EventData) -> tuple[Any, ...]:
    """A block clicked in the graph or a plot (assets/selection.js sends its name)."""
    return select_block(spec, input_size, str(getattr(evt, "block", "") or evt._data.get("block", "")), cid)


def select_from_table(spec: str, input_size: float, cid: str, evt: gr.SelectData) -> tuple[Any, ...]:
    """A row of the block tables: its first cell is the block."""
    row = evt.row_value or []
    return select_block(spec, input_size, str(row[0]).split(" ")[0] if row else "", cid)


def channels_highlight(spec: str, input_size: float, name: str, active: str = "structure") -> Any:
    """The channel plot with the selected block marked (when its tab is open; opening it redraws it)."""
    if active != "structure":
        return gr.skip()
    config, size = model_and_size(spec, input_size)
    return highlight_block(structure_views(config, size).channels, name)


def follow_block(cid: str, name: str, k: float, channel: float, active: str = "features") -> tuple[Any, ...]:
    """The feature-map views at the selected block, when an image of this model has been run (and the tab is
    open; opening it follows the selection)."""
    if active != "features":
        return (gr.skip(),) * 6
    try:
        cap = STORE.capture(cid) if cid else None
    except KeyError:
        cap = None
    if cap is None or name not in cap.maps:
        return (gr.skip(),) * 6
    return (gr.update(value=name), *_block_views(cid, name, k, channel))


# ---- graph and exports -----------------------------------------------------------------------------------------

def graph_html(svg: bytes, trace: Trace | None = None) -> str:
    """Inline SVG in a pan/zoom frame (driven by assets/panzoom.js), and the graph as a list a screen reader can
    walk and a keyboard can use: each block a button that selects it."""
    text = svg.decode()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE
    items = "".join(
        f'<li><button data-select="{html.escape(b.name)}">{html.escape(b.name)}</button>: {html.escape(b.block_type)}, '
        f"{format_shape(b.in_shape)} → {format_shape(b.out_shape)}, "
        f"{'projection' if b.downsample else 'identity'} shortcut</li>" for b in (trace.blocks if trace else ()))
    listing = (f'<details class="rx-textalt"><summary>The blocks as a list ({len(trace.blocks)}; Enter selects one)'
               f"</summary><ol>{items}</ol></details>") if trace else ""
    return (
        '<div class="rx-graph"><div class="rx-toolbar">'
        '<button data-zoom="in" title="zoom in" aria-label="zoom in">+</button>'
        '<button data-zoom="out" title="zoom out" aria-label="zoom out">−</button>'
        '<button data-zoom="fit" title="fit to view" aria-label="fit to view">fit</button></div>'
        f'<div class="rx-stage"><div class="rx-viewport">{text}</div></div>'
        '<div class="rx-hint">wheel: zoom · drag: pan · double-click: fit · click a block to select it</div>'
        f"{listing}</div>"
    )


def notice_html(message: str) -> str:
    return f'<div class="rx-notice">{html.escape(message)}</div>'


def _graph_options(level: str, direction: str) -> None:
    try:
        check_graph_options(level, direction)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid graph options") from None


STYLE_CHOICES = [("graph (Graphviz)", "graph"), ("paper (3-D boxes, residual arcs)", "paper"),
                 ("paper, flat", "flat")]
FORMAT_LABELS = {"tex": "TeX", "drawio": "draw.io", "mermaid": "Mermaid", "graphml": "GraphML"}


def _figure_options(style: str, theme: str, fig_size: str) -> None:
    for name, value, allowed in (("style", style, STYLES), ("theme", theme, THEMES), ("size", fig_size, SIZES)):
        if value not in allowed:
            raise gr.Error(f"{name} must be one of {list(allowed)}, got {value!r}", title="Invalid figure options")


def show_graph(spec: str, input_size: float, level: str, direction: str, collapse: bool, style: str = "graph",
               theme: str = "light", fig_size: str = "column") -> str:
    """The architecture graph (or the paper figure) as zoomable SVG, or a notice saying how to install
    Graphviz. A paper figure draws stages or blocks: at a finer level it shows the stages (the level control
    follows, see ``paper_level``)."""
    config, size = model_and_size(spec, input_size)
    _graph_options(level, direction)
    _figure_options(style, theme, fig_size)
    try:
        trace = structure_trace(config, size)
        if style != "graph":
            svg = export_bytes(config, "svg", size, paper_level(style, level), direction, bool(collapse),
                               style=style, theme=theme, size=fig_size)
            return graph_html(svg, trace)
        return graph_html(rendered(config, size, level, direction, bool(collapse)), trace)
    except GraphvizMissing:
        gr.Warning(INSTALL_HINT)
        return notice_html(INSTALL_HINT)


def paper_level(style: str, level: str) -> str:
    """The level a figure of ``style`` draws: the paper styles draw stages or blocks."""
    return level if style == "graph" or level in UNITS else "stages"


def make_export(fmt: str) -> Callable[..., str]:
    """The download handler for one format; files land in a fresh folder under a server-chosen name."""

    def export(spec: str, input_size: float, level: str, direction: str, collapse: bool, dpi: float,
               style: str = "graph", theme: str = "light", fig_size: str = "column") -> str:
        config, size = model_and_size(spec, input_size)
        _graph_options(level, direction)
        _figure_options(style, theme, fig_size)
        try:
            return str(write_export(config, fmt, root=OUTPUT_ROOT, input_size=size, level=level, direction=direction,
                                    collapse=bool(collapse), dpi=_whole("DPI", dpi), style=style, theme=theme,
                                    size=fig_size))
        except GraphvizMissing:
            raise gr.Error(INSTALL_HINT, title="Graphviz is not installed") from None
        except ValueError as exc:
            raise gr.Error(str(exc), title="Cannot export") from None

    export.__name__ = f"export_{fmt}"
    return export


# ---- feature maps ----------------------------------------------------------------------------------------------

def png_file(image: Any, name: str, run: str) -> str:
    """Write an image as PNG tagged with its run id. Identical images from concurrent runs would otherwise
    share one path in Gradio's content-addressed cache, and one request could read it mid-copy."""
    info = PngImagePlugin.PngInfo()
    info.add_text("resnet-explorer-run", f"{run}-{uuid.uuid4().hex}")
    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    path = fresh_folder(OUTPUT_ROOT) / f"{name}.png"
    img.save(path, pnginfo=info, compress_level=PNG_LEVEL)
    return str(path)


def _block_views(cid: str, block: str, k: float, channel: float) -> tuple[Any, str, Any, Any, Any]:
    """Grid, caption, zoomed channel, overlay and the across-network plot marking the block, for one block
    of a stored capture (no forward pass)."""
    try:
        cap = STORE.capture(cid)
    except KeyError as exc:
        raise gr.Error(str(exc.args[0]), title="Run expired") from None
    if block not in cap.maps:
        raise gr.Error(f"no block named {block!r} in this run; pick one of {', '.join(list(cap.maps)[:3])}, ...")
    grid, channels = channel_grid(cap, block, _whole("k", k))
    ch = _whole("channel", channel)
    try:
        zoom = channel_zoom_figure(cap, block, channels[0] if ch < 0 else ch)
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid channel") from None
    st = cap.stats(block)
    prefix = re.sub(r"[^\w.-]+", "_", f"{cap.model_name}_{block}")  # file-name-safe, like ResNetConfig.slug
    caption = (f"**{block}** — top {len(channels)} of {st.channels} channels by mean activation "
               f"(row by row, strongest first): {', '.join(map(str, channels))}.  \n"
               f"zeros {st.zero_fraction:.1%} · dead channels {st.dead_channels} · mean {st.mean:.3g} ± {st.std:.3g} · "
               f"‖F(x)‖/‖shortcut‖ = {st.residual_ratio:.3g}" + (" · projection shortcut" if st.projection else ""))
    grid_png = png_file(grid, f"{prefix}_top{len(channels)}", cid)
    over_png = png_file(overlay(cap, block), f"{prefix}_overlay", cid)
    return grid_png, caption, zoom, over_png, network_figure(cap, block)


def _offer(spec: str) -> tuple[WeightsInfo | None, bool, str]:
    """The best published weights of the model, if it is a preset, whether they are cached, and a line saying so."""
    try:
        config = parse_model(spec)
    except ValueError:
        return None, False, ""
    preset = config.preset if isinstance(config, ResNetConfig) else None
    info = PRESETS[preset].best_weights() if preset else None
    if info is None:
        return None, False, "No published ImageNet weights for this model (open a checkpoint of your own above)."
    cached = find_cached(info.arch, info.tag) is not None
    return info, cached, (f"Trained weights: **{info.arch} {info.tag}** · {state_size(info.arch) / 2**20:.0f} MiB · "
                          f"ImageNet top-1 {info.acc1:.1f}% · "
                          + ("in the torch hub cache" if cached else "not downloaded"))


def weights_offer(spec: str) -> tuple[str, Any]:
    """What trained weights the model has, and whether the download button has anything to do."""
    info, cached, text = _offer(spec)
    return text, gr.update(interactive=info is not None and not cached)


def download_trained(spec: str, progress: gr.Progress = gr.Progress()) -> tuple[str, Any, str]:
    """Download the model's best published weights (only when the user presses the button), then use them."""
    info, _, _ = _offer(spec)
    if info is None:
        raise gr.Error("this model has no published ImageNet weights", title="Nothing to download")

    def report(done: int, total: int | None) -> None:
        progress(done / total if total else 0.0, desc=f"{info.filename}: {done / 2**20:.0f} MiB")

    try:
        download(info, progress=report)
    except DownloadError as exc:
        raise gr.Error(str(exc), title="Download failed") from None
    text, button = weights_offer(spec)
    return text, button, "hub"


def block_view(cid: str, block: str, k: float, channel: float) -> tuple[Any, str, Any, Any, Any]:
    """Switch block, k or channel on the last run."""
    if not cid:
        raise gr.Error("run an image first", title="No image yet")
    return _block_views(cid, block, k, channel)


# ---- class activation maps ------------------------------------------------------------------------------------

def _cam_outputs(cid: str, block: str, method: str, opacity: float, labels: str | None) -> tuple[Any, ...]:
    """Overlay, raw map, per-stage strip and caption of the kept CAM run (no forward or backward pass)."""
    try:
        run = STORE.cam_run(cid)
        cap = STORE.capture(cid)
        names = label_names(len(run.logits), read_labels(labels))
        chosen = run.check_block(block) if block else run.blocks[-1]
        over = cam_overlay(run, cap.crop, chosen, method, float(opacity))
        strip = cam_strip(run, cap.crop, method, float(opacity))
        figure = cam_figure(run, chosen, method, names[run.target])
    except KeyError as exc:
        raise gr.Error(str(exc.args[0]), title="No class maps yet") from None
    except ValueError as exc:
        raise gr.Error(str(exc), title="Invalid class-map options") from None
    notice = "" if cap.notices[:1] != [RANDOM_NOTICE] else f"**{RANDOM_CAM_NOTICE}**  \n"
    caption = (f"{notice}**{method}** at **{chosen}** for **{names[run.target]}** (class {run.target}) — "
               f"{METHODS[method]}" + (" Same for every class." if method in GRADIENT_FREE else ""))
    prefix = re.sub(r"[^\w.-]+", "_", f"{run.model_name}_{chosen}_{method}_{run.target}")
    return (png_file(over, f"{prefix}_cam", cid), figure, png_file(strip, f"{prefix}_stages", cid), caption)


def cam_follow(cid: str, block: str, method: str, opacity: float, labels: str | None = None,
               active: str = "features") -> tuple[Any, ...]:
    """The class maps at the selected block, when maps have been computed for this run (else unchanged)."""
    if active != "features":
        return (gr.skip(),) * 4
    try:
        STORE.cam_run(cid)
    except KeyError:
        return (gr.skip(),) * 4
    return _cam_outputs(cid, block, method, opacity, labels)


def features_on_open(cid: str, *inputs: Any) -> tuple[Any, ...]:
    """The first time the Feature maps tab opens, run what its controls show; later, keep what is there."""
    if cid:
        return tuple(gr.skip() for _ in range(10))
    return features(*inputs)


def target_choices(predictions: Any) -> Any:
    """The class picker offers the top-5 of the last run (any other name or index can be typed)."""
    found = predictions.get("confidences", []) if isinstance(predictions, dict) else []
    return gr.update(choices=[c["label"] for c in found if "label" in c], value=None)


def compute_cams(cid: str, block: str, target: str, method: str, opacity: float, labels: str | None = None,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    """Class maps at every block for the image run above: one forward and one backward pass."""
    if not cid:
        raise gr.Error("run an image first", title="No image yet")
    try:
        check_method(method)
        cap = STORE.capture(cid)
        wanted = parse_target(target, label_names(len(cap.logits), read_labels(labels)))
        progress(0.2, desc="one forward and one backward pass through every block")
        STORE.cam(cid, wanted)
    except KeyError as exc:
        raise gr.Error(str(exc.args[0]), title="Run expired") from None
    except ValueError as exc:
        raise gr.Error(str(exc), title="Cannot compute class maps") from None
    return _cam_outputs(cid, block, method, opacity, labels)


def cam_view(cid: str, block: str, method: str, opacity: float, labels: str | None = None) -> tuple[Any, ...]:
    """Another block, method or opacity for the kept run: no new pass."""
    if not cid:
        raise gr.Error("run an image first", title="No image yet")
    return _cam_outputs(cid, block, method, opacity, labels)


def cam_target(cid: str, block: str, target: str, method: str, opacity: float,
               labels: str | None = None) -> tuple[Any, ...]:
    """Another class: one backward pass through the kept graph (no forward)."""
    try:
        run = STORE.cam_run(cid)
        wanted = parse_target(target, label_names(len(run.logits), read_labels(labels)))
        if wanted is None:
            wanted = int(np.argmax(run.logits))
        run.retarget(wanted)
    except KeyError:
        return compute_cams(cid, block, target, method, opacity, labels)
    except ValueError as exc:
        if "kept no graph" in str(exc):
            return compute_cams(cid, block, target, method, opacity, labels)
        raise gr.Error(str(exc), title="Invalid class") from None
    return _cam_outputs(cid, block, method, opacity, labels)


def features(spec: str, upload: str | None, example: str, weights: str, checkpoint: str | None, device: str,
             block: str, k: float, labels: str | None = None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    """Image -> crop -> one forward pass capturing every block -> ``block``'s views and the across-network plot.
    Predictions are named by ``labels`` (a text file, one class per line), ImageNet's names for 1000 outputs,
    else class indices."""
    progress(0.05, desc="checking the model")
    config = model_config(spec)
    image = upload or (EXAMPLES.get(example) if example else None)
    if image is None:
        raise gr.Error(f"pick an example ({', '.join(EXAMPLES)}) or upload an image", title="No image")
    progress(0.2, desc="loading the model and the image, running every block")
    try:
        cid, cap, loaded = STORE.run_image(config, image, weights, checkpoint or SETTINGS.weights,
                                           device or SETTINGS.device)
    except ImageError as exc:
        raise gr.Error(str(exc), title="Cannot use this image") from None
    except CheckpointError as exc:
        raise gr.Error(str(exc), title="Cannot load these weights") from None
    except ModelTooLarge as exc:
        raise gr.Error(str(exc), title="Model too large to run") from None
    except (ValueError, OSError) as exc:
        raise gr.Error(str(exc), title="Cannot run the image") from None
    progress(0.8, desc="drawing the views")
    chosen = block if block in cap.maps else default_block(cap)
    grid, caption, zoom, over, network = _block_views(cid, chosen, k, -1)
    notice = [f"Ran on **{cap.device}** · weights: {loaded.weights_label}", *cap.notices]
    try:
        predictions = top5(cap, read_labels(labels)) if loaded.trained else {}
    except ValueError as exc:
        predictions, notice = {}, [*notice, str(exc)]
    choices = [(f"{b.name} · {format_shape(cap.maps[b.name].shape)}{' · projection' if b.projection else ''}", b.name)
               for b in cap.blocks]
    return (cid, "  \n".join(notice), png_file(cap.crop, "crop", cid), gr.update(choices=choices, value=chosen),
            grid, caption, zoom, over, network, predictions)


# ---- the page, one builder per part ----------------------------------------------------------------------------

VIEW_EVENT = dict(concurrency_limit=2, show_progress="minimal", trigger_mode="always_last")
_VIEW_SLOTS = threading.BoundedSemaphore(2)  # the refresh of a new model runs outside the queue: two at a time


@dataclass
class Controls:
    """What every tab reads: the applied model spec, input and batch size; and what a checkpoint sets."""

    model: gr.Textbox
    input_size: gr.Slider
    batch: gr.Number
    spec_box: gr.Textbox
    checkpoint: gr.File
    opened: gr.State  # [spec, notice] of the last checkpoint opened
    source: gr.Markdown
    controls: list[Any]  # mode, preset and the custom fields: what spec_from_controls reads


def source_notice(spec: str, opened: list[str] | None) -> str:
    """Where the applied model came from, while it is the checkpoint's."""
    return opened[1] if opened and opened[0] == spec else ""


def _other_sources(limits: Limits) -> tuple[gr.File, gr.Dropdown | None]:
    """A checkpoint to open, and (with timm installed) timm's architectures."""
    with gr.Row():
        checkpoint = gr.File(label=f"…or open a checkpoint (.pth state dict or .safetensors, up to "
                                   f"{limits.max_checkpoint_mb:g} MiB): the page switches to the model inside, "
                                   "its architecture read from the weights",
                             file_types=list(CHECKPOINT_SUFFIXES), type="filepath", elem_id="checkpoint", scale=2,
                             height=90)
        # timm takes ~1.7 s to import: its list is read when the picker is first opened, not at start-up.
        timm_arch = gr.Dropdown([], value=None, label="…or a timm architecture", elem_id="timm-arch", scale=1,
                                allow_custom_value=True) if timm_installed() else None
    return checkpoint, timm_arch


def _model_controls() -> Controls:
    """Preset / custom controls, the spec box and the checkpoint upload."""
    limits = SETTINGS.limits
    with gr.Row():
        mode = gr.Radio(list(MODES), value="Preset", label="Model", elem_id="mode", scale=1)
        preset = gr.Dropdown([(p.title, n) for n, p in PRESETS.items()], value=DEFAULT_SPEC, label="Preset",
                             elem_id="preset", scale=1)
        spec_box = gr.Textbox(DEFAULT_SPEC, label="Model spec (type one and press Enter; the CLI takes the same)",
                              elem_id="spec", scale=2, max_lines=1,
                              info="e.g. resnet101, resnet50:v1, bottleneck:3-4-6-3:32x4d, bottleneck:2-2-2-2:c10")
        input_size = gr.Slider(MIN_INPUT_SIZE, limits.max_input_size, value=min(224, limits.max_input_size), step=1,
                               label=f"Input size (px, up to {limits.max_input_size})", elem_id="input-size", scale=1)
        batch = gr.Number(1, precision=0, minimum=1, maximum=MAX_BATCH, label="Batch size (memory figures)",
                          elem_id="batch-size", scale=1)
    checkpoint, timm_arch = _other_sources(limits)
    source = gr.Markdown(elem_id="model-source")
    opened = gr.State(None)
    d = get_preset(DEFAULT_SPEC)
    with gr.Group(visible=False, elem_id="custom-group") as custom:
        with gr.Row():
            block_type = gr.Radio(["bottleneck", "basic"], value=d.block, label="Block type", elem_id="block-type")
            stride_in = gr.Radio(["v1.5", "v1"], value="v1.5", label="Stride on (v1.5: 3×3, v1: first 1×1)",
                                 elem_id="stride-in")
        with gr.Row():
            depths = [gr.Slider(1, limits.max_blocks_per_stage, value=n, step=1, label=f"layer{i} blocks",
                                elem_id=f"layer{i}-blocks") for i, n in enumerate(d.layers, start=1)]
        with gr.Row():
            width = gr.Slider(1, MAX_WIDTH_PER_GROUP, value=64, step=1, label="Width per group (64 = ResNet)",
                              elem_id="width-per-group")
            groups = gr.Slider(1, MAX_GROUPS, value=1, step=1, label="Groups (ResNeXt)", elem_id="groups")
            load_preset = gr.Button("Copy the picked preset into these fields", size="sm", elem_id="load-preset",
                                    scale=0, min_width=160)
    # The applied spec: what every view shows. A hidden Textbox rather than a State, so API calls pass it too;
    # only functions write it (the user types in the spec box above), so its change event means "new model".
    model = gr.Textbox(DEFAULT_SPEC, visible=False, elem_id="model")
    fields_ = [block_type, *depths, width, groups, stride_in]
    controls = [mode, preset, *fields_]
    private = dict(api_visibility="private", trigger_mode="always_last")
    # the controls' own input event is wired with the views (_wire_views): one round trip per change
    gr.on([spec_box.submit, spec_box.blur], apply_spec, spec_box, [spec_box, model, mode, preset, *fields_],
          api_name="apply_spec", **private)
    load_preset.click(custom_from_preset, preset, fields_, api_visibility="private", api_name="custom_from_preset") \
        .success(spec_from_controls, [*controls, model], [spec_box, model], api_visibility="private")
    mode.change(show_custom, mode, custom, api_visibility="private", api_name="show_custom")
    if timm_arch is not None:
        timm_arch.focus(lambda: gr.update(choices=list(timm_architectures())), None, timm_arch,
                        api_visibility="private", api_name="timm_choices")
        timm_arch.input(pick_timm, timm_arch, [spec_box, model, mode, preset, *fields_],
                        api_visibility="private", api_name="pick_timm")
    return Controls(model, input_size, batch, spec_box, checkpoint, opened, source, controls)


@dataclass
class Selection:
    """The selected block (a hidden Textbox, so API calls pass it) and the inspector that shows it."""

    selected: gr.Textbox
    hub: gr.HTML
    outputs: list[Any]  # what select_block fills


def _inspector(demo: gr.Blocks, c: Controls) -> Selection:
    """The block inspector, above the tabs: the selected block's code and facts, whichever tab is open."""
    with gr.Accordion("Block inspector", open=True, elem_id="inspector"):
        hub = gr.HTML(selection_html("", []), elem_id="selection", js_on_load=(ASSETS / "selection.js").read_text())
        with gr.Row():
            with gr.Column(scale=3):
                picker = gr.Dropdown([], value=None, label="Block", elem_id="inspector-block", allow_custom_value=True)
                facts = gr.Markdown(elem_id="inspector-facts")
            code = gr.HTML(code_html(""), elem_id="inspector-code", scale=2)
    selected = gr.Textbox("", visible=False, elem_id="selected-block")
    return Selection(selected, hub, [selected, picker, facts, code, hub])


@dataclass
class TabView:
    """A tab and how to fill it for a model: ``fill(spec, input_size, batch, selected, *inputs)`` gives its
    ``outputs``. A tab is filled when it is open: on a new model only the open tab is, the others when opened."""

    name: str
    tab: gr.Tab
    fill: Callable[..., tuple[Any, ...]]
    outputs: list[Any]
    inputs: list[Any] = field(default_factory=list)


def _tables_tab(demo: gr.Blocks, model: gr.Textbox, input_size: gr.Slider, batch: gr.Number,
                totals: gr.Markdown) -> TabView:
    with gr.Tab("Tables", id="tables", elem_id="tab-tables") as tab:
        stages = gr.Dataframe(headers=list(STAGE_COLUMNS), label="Stages", elem_id="stage-table", interactive=False)
        blocks = gr.Dataframe(headers=[*BLOCK_COLUMNS, *BLOCK_MEMORY_COLUMNS], label="Blocks (memory at the batch size "
                              "above)", elem_id="block-table", interactive=False, max_height=600)
        memory = gr.Dataframe(headers=list(MEMORY_COLUMNS), label="Memory (inference peak: the most live activations "
                              "at once; training: what autograd keeps for backward)", elem_id="memory-table",
                              interactive=False)
    batch.change(summarize, [model, input_size, batch], [totals, stages, blocks, memory], api_name="summarize",
                 **VIEW_EVENT)
    return TabView("tables", tab, lambda spec, size, n, _: summarize(spec, size, n)[1:], [stages, blocks, memory])


def _structure_tab(demo: gr.Blocks, model: gr.Textbox, input_size: gr.Slider, batch: gr.Number,
                   selected: gr.Textbox, active: gr.State) -> TabView:
    with gr.Tab("Channels & structure", id="structure", elem_id="tab-structure") as tab:
        channel_plot = gr.Plot(label="Channels per block", elem_id="channel-plot")
        transition_plot = gr.Plot(label="Resolution vs channels", elem_id="transition-plot")
        with gr.Row():
            cost_plot = gr.Plot(label="Cost per stage", elem_id="cost-plot")
            memory_plot = gr.Plot(label="Memory per part", elem_id="memory-plot")
        stats_table = gr.Dataframe(headers=list(STAGE_STATS_COLUMNS), label="Per stage (receptive field in px)",
                                   elem_id="stats-table", interactive=False)
        analytics_table = gr.Dataframe(headers=list(BLOCK_ANALYTICS_COLUMNS), label="Per block",
                                       elem_id="analytics-table", interactive=False, max_height=500)
    outputs = [channel_plot, transition_plot, cost_plot, memory_plot, stats_table, analytics_table]
    batch.change(structure, [model, input_size, batch, selected], outputs, api_name="structure", **VIEW_EVENT)
    selected.change(channels_highlight, [model, input_size, selected, active], channel_plot,
                    api_name="channels_highlight", api_visibility="private", **VIEW_EVENT)
    return TabView("structure", tab, structure, outputs)


def _compare_tab(demo: gr.Blocks, model: gr.Textbox, input_size: gr.Slider) -> TabView:
    with gr.Tab("Compare", id="compare", elem_id="tab-compare") as tab:
        other = gr.Dropdown([(p.title, n) for n, p in PRESETS.items()], value="resnet101", allow_custom_value=True,
                            label="Compare the model above (A) with B",
                            info="a preset, or type a spec such as bottleneck:3-4-6-3:32x4d", elem_id="compare-other")
        summary = gr.Markdown(elem_id="compare-summary")
        table = gr.Dataframe(headers=list(COMPARE_COLUMNS), label="Per stage, A vs B", elem_id="compare-table",
                             interactive=False)
        channels = gr.Plot(label="Channels along the depth", elem_id="compare-channels")
        costs = gr.Plot(label="Cost per stage", elem_id="compare-costs")
    outputs = [summary, table, channels, costs]
    other.change(compare_models, [model, input_size, other], outputs, api_name="compare", **VIEW_EVENT)
    return TabView("compare", tab, lambda spec, size, _n, _s, b: compare_models(spec, size, b), outputs, [other])


def _feature_inputs() -> tuple[Any, ...]:
    """The image, the weights (and what trained weights there are to download), the labels and the device."""
    example = gr.Dropdown(list(EXAMPLES), value="cat", label="Example image", elem_id="fm-example")
    upload = gr.File(label="…or upload an image (JPEG, PNG, WebP, BMP, GIF, TIFF)", file_types=IMAGE_TYPES,
                     type="filepath", elem_id="fm-upload")
    weights = gr.Radio(WEIGHT_CHOICES, value="file" if SETTINGS.weights else "random", label="Weights",
                       elem_id="fm-weights")
    offer = gr.Markdown(elem_id="fm-offer")  # filled with the first view (weights_offer)
    download_button = gr.Button("Download trained weights", size="sm", elem_id="fm-download", interactive=False)
    labels = gr.File(label="Class names for the predictions (.txt, one per line; default: ImageNet's for 1000 "
                           "outputs, else class indices)", file_types=[".txt"], type="filepath", elem_id="fm-labels",
                     height=90)
    device = gr.Radio(["auto", "cpu", "cuda", "mps"], value=SETTINGS.device, label="Device", elem_id="fm-device")
    run_button = gr.Button("Run image", variant="primary", elem_id="fm-run")
    gr.Markdown(f"Runs a real forward pass: models whose weights and activations need more than "
                f"{SETTINGS.limits.max_model_mb:g} MiB are refused before anything is allocated "
                f"(`--max-model-mb`; the Tables tab shows each model's memory).", elem_id="fm-limits")
    return example, upload, weights, labels, device, offer, download_button, run_button


def _cam_section() -> tuple[tuple[Any, ...], list[Any], gr.Button]:
    """Class activation maps: method, class and opacity; the overlay, the raw map and the per-stage strip."""
    gr.Markdown("### Why did it predict that? Class activation maps at every block", elem_id="cam-title")
    with gr.Row():
        method = gr.Radio([(name, name) for name in METHODS], value="gradcam", label="Method", elem_id="cam-method",
                          info=" · ".join(f"{k}: {v.split(':', 1)[1].split(';')[0].strip()}"
                                          for k, v in METHODS.items()))
        target = gr.Dropdown([], value=None, allow_custom_value=True, label="Class (default: the top-1; a name or "
                             "an index)", elem_id="cam-target")
        opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="Opacity", elem_id="cam-opacity")
        button = gr.Button("Compute class maps", variant="secondary", elem_id="cam-run")
    caption = gr.Markdown(elem_id="cam-caption")
    with gr.Row():
        over = gr.Image(label="Over the crop the network saw (upsampled)", format="png", interactive=False,
                        elem_id="cam-overlay")
        raw = gr.Plot(label="At the block's own resolution", elem_id="cam-raw")
    strip = gr.Image(label="The last block of each stage: localisation with depth", format="png",
                     interactive=False, elem_id="cam-strip")
    return (method, target, opacity), [over, raw, strip, caption], button


@dataclass
class FeaturesTab:
    view: TabView
    capture_id: gr.State
    offer: list[Any]  # the trained-weights offer and its download button, which follow the model


def _wire_cams(capture_id: gr.State, block: gr.Dropdown, labels: gr.File, cam_inputs: tuple[Any, ...],
               cam_outputs: list[Any], button: gr.Button) -> None:
    """Class maps: computed on the button, redrawn for another block, method or opacity (no new pass), and for
    another class (one backward pass)."""
    method, target, opacity = cam_inputs
    button.click(compute_cams, [capture_id, block, target, method, opacity, labels], cam_outputs, api_name="cam",
                 concurrency_limit=1)
    gr.on([block.input, method.change, opacity.release], cam_view, [capture_id, block, method, opacity, labels],
          cam_outputs, api_name="cam_view", **VIEW_EVENT)
    gr.on([target.input], cam_target, [capture_id, block, target, method, opacity, labels], cam_outputs,
          api_name="cam_target", concurrency_limit=1, trigger_mode="always_last")


def _features_tab(c: Controls, selected: gr.Textbox, active: gr.State) -> FeaturesTab:
    model, checkpoint = c.model, c.checkpoint
    with gr.Tab("Feature maps", id="features", elem_id="tab-features") as tab:
        capture_id = gr.State("")
        with gr.Row():
            with gr.Column(scale=1):
                example, upload, weights, labels, device, offer, download_button, run_button = _feature_inputs()
            with gr.Column(scale=1):
                crop = gr.Image(label="What the network sees (the exact crop)", format="png", interactive=False,
                                elem_id="fm-crop", height=300)
                predictions = gr.Label(num_top_classes=5, label="Top-5 predictions (trained weights only)",
                                       elem_id="fm-predictions")
        notice = gr.Markdown(elem_id="fm-notice")
        with gr.Row():
            block = gr.Dropdown([], label="Block", elem_id="fm-block", allow_custom_value=True)
            k = gr.Slider(1, 64, value=16, step=1, label="Channels in the grid (top-k)", elem_id="fm-k")
            channel = gr.Number(-1, precision=0, label="Zoom on channel (-1: the strongest)", elem_id="fm-channel")
        caption = gr.Markdown(elem_id="fm-caption")
        with gr.Row():
            grid = gr.Image(label="Top-k channels (each normalised to its own range)", format="png", interactive=False,
                            elem_id="fm-grid")
            over = gr.Image(label="Mean activation over the input", format="png", interactive=False,
                            elem_id="fm-overlay")
        zoom = gr.Plot(label="One channel", elem_id="fm-zoom")
        network = gr.Plot(label="Across the network", elem_id="fm-network")
        cam_inputs, cam_outputs, cam_button = _cam_section()
    run_inputs = [model, upload, example, weights, checkpoint, device, block, k, labels]
    run_outputs = [capture_id, notice, crop, block, grid, caption, zoom, over, network, predictions]
    run = gr.on([run_button.click, upload.change, example.change, weights.change, device.change, labels.change],
                features, run_inputs, run_outputs, api_name="features", concurrency_limit=1,
                trigger_mode="always_last")
    download_button.click(download_trained, model, [offer, download_button, weights], api_name="download_weights",
                          concurrency_limit=1) \
        .success(features, run_inputs, run_outputs, api_visibility="private", concurrency_limit=1)
    # A checkpoint switches every view to the model inside it, then runs the image with its weights.
    checkpoint.upload(open_checkpoint_file, checkpoint, [c.spec_box, model, weights, c.opened],
                      api_name="open_checkpoint", concurrency_limit=2) \
        .success(source_notice, [model, c.opened], c.source, api_visibility="private") \
        .success(features, run_inputs, run_outputs, api_visibility="private", concurrency_limit=1)
    gr.on([block.input, k.change, channel.submit], block_view, [capture_id, block, k, channel],
          [grid, caption, zoom, over, network], api_name="block_view", **VIEW_EVENT)
    method, target, opacity = cam_inputs
    # Opened for the first time: the default example's results are there without pressing a button.
    tab.select(features_on_open, [capture_id, *run_inputs], run_outputs, api_visibility="private",
               concurrency_limit=1, show_progress="minimal") \
        .success(target_choices, predictions, target, api_visibility="private")
    run.success(target_choices, predictions, target, api_visibility="private", api_name="target_choices")
    _wire_cams(capture_id, block, labels, cam_inputs, cam_outputs, cam_button)
    # The selected block (from any view) sets the block picker and redraws the block's views, then its maps.
    follow = [block, grid, caption, zoom, over, network]
    selected.change(follow_block, [capture_id, selected, k, channel, active], follow, api_name="follow_block",
                    api_visibility="private", **VIEW_EVENT) \
        .then(cam_follow, [capture_id, selected, method, opacity, labels, active], cam_outputs,
              api_visibility="private")
    block.input(lambda name: name, block, selected, api_name="select_feature_block", api_visibility="private",
                queue=False)
    view = TabView("features", tab, lambda spec, size, n, name, cid, k_, ch: follow_block(cid, name, k_, ch), follow,
                   [capture_id, k, channel])
    return FeaturesTab(view, capture_id, [offer, download_button])


def _graph_tab(demo: gr.Blocks, model: gr.Textbox, input_size: gr.Slider) -> TabView:
    with gr.Tab("Graph", id="graph", elem_id="tab-graph") as tab:
        if not dot_available():
            gr.HTML(notice_html(INSTALL_HINT), elem_id="graphviz-notice")
        with gr.Row():
            style = gr.Radio(STYLE_CHOICES, value="graph", label="Style", elem_id="graph-style", scale=3)
            theme = gr.Radio(list(THEMES), value="light", label="Paper theme", elem_id="graph-theme", scale=1)
            fig_size = gr.Radio([("one column", "column"), ("page width", "page")], value="column",
                                label="Paper width", elem_id="graph-size", scale=1)
        with gr.Row():
            level = gr.Radio([(f"{lv} ({LEVEL_HELP[lv]})", lv) for lv in LEVELS], value="blocks", label="Level",
                             elem_id="graph-level", scale=3)
            direction = gr.Radio([(v, k) for k, v in DIRECTIONS.items()], value="TB", label="Direction",
                                 elem_id="graph-direction", scale=1)
            collapse = gr.Checkbox(False, label="Fold repeated blocks (×N)", elem_id="graph-collapse", scale=1)
        graph = gr.HTML(elem_id="graph", js_on_load=(ASSETS / "panzoom.js").read_text(), min_height=420)
        with gr.Row(elem_id="export-row"):
            buttons = {fmt: gr.Button(FORMAT_LABELS.get(fmt, fmt.upper()), size="sm", elem_id=f"export-{fmt}",
                                      min_width=60) for fmt in EXPORT_FORMATS}
            dpi = gr.Slider(MIN_DPI, MAX_DPI, value=DEFAULT_DPI, step=1, label="PNG DPI (72 = 1 px per pt)",
                            elem_id="png-dpi", scale=2)
        export_file = gr.File(label="Download", elem_id="export-file", interactive=False)
    options, figure = [level, direction, collapse], [style, theme, fig_size]
    gr.on([c.change for c in options + figure], show_graph, [model, input_size, *options, *figure], graph,
          api_name="graph", **VIEW_EVENT)
    style.input(paper_level, [style, level], level, api_name="paper_level", api_visibility="private", queue=False)
    for fmt, button in buttons.items():
        button.click(make_export(fmt), [model, input_size, *options, dpi, *figure], export_file,
                     api_name=f"export_{fmt}", concurrency_limit=2)
    return TabView("graph", tab, lambda spec, size, _n, _s, *opts: (show_graph(spec, size, *opts),), [graph],
                   [*options, *figure])


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="ResNet Explorer") as demo:
        gr.Markdown("# ResNet Explorer\nToggle depth configs and see every residual block's shapes, "
                    "downsample paths and cost.", elem_id="intro")
        c = _model_controls()
        totals = gr.Markdown(elem_id="totals")
        sel = _inspector(demo, c)
        active = gr.State("tables")  # the open tab: the only one a new model refills at once
        with gr.Tabs(elem_id="tabs"):
            tables = _tables_tab(demo, c.model, c.input_size, c.batch, totals)
            structure_ = _structure_tab(demo, c.model, c.input_size, c.batch, sel.selected, active)
            compare_ = _compare_tab(demo, c.model, c.input_size)
            feats = _features_tab(c, sel.selected, active)
            graph = _graph_tab(demo, c.model, c.input_size)
        _wire_views(demo, c, sel, totals, active, feats, [tables, structure_, compare_, feats.view, graph])
        where, capture_id = [c.model, c.input_size], feats.capture_id
        gr.on([sel.outputs[1].select], select_block, [*where, sel.outputs[1], capture_id], sel.outputs,
              api_name="select_block", **VIEW_EVENT)
        sel.hub.block_select(select_from_page, [*where, capture_id], sel.outputs, api_name="select_from_page",
                             api_visibility="private", **VIEW_EVENT)
        for table in (tables.outputs[1], structure_.outputs[-1]):
            table.select(select_from_table, [*where, capture_id], sel.outputs, api_visibility="private", **VIEW_EVENT)
    for block_fn in demo.fns.values():  # a request that comes before torch has loaded waits for it
        if block_fn.fn is not None:
            block_fn.fn = _after_heavy(block_fn.fn)
    return demo


def _wire_views(demo: gr.Blocks, c: Controls, sel: Selection, totals: gr.Markdown, active: gr.State,
                feats: FeaturesTab, tabs: list[TabView]) -> None:
    """One event per new model: what is always on screen (totals, where the model came from, the weights
    offer, the inspector) and the open tab, in one round trip; each other tab fills when it is opened. (One
    event per view made a preset switch wait for seven round trips and seven re-renders of hidden tabs.)"""
    common = [c.model, c.input_size, c.batch, sel.selected, feats.capture_id, c.opened]
    extras = [x for t in tabs for x in t.inputs]
    head = [totals, c.source, *feats.offer, *sel.outputs]
    outputs = [*head, *(o for t in tabs for o in t.outputs)]
    drawn = gr.State(None)  # [spec, input size, batch, tab] the views show: a repeat request is skipped

    def views(which: str, spec: str, size: float, n: float, selected: str, cid: str, opened: Any, shown: Any,
              *extra: Any) -> tuple[Any, ...]:
        key = [spec, size, n, which]
        if shown == key:
            return (gr.skip(),) * (1 + len(outputs))
        with _VIEW_SLOTS:
            return _views(key, which, spec, size, n, selected, cid, opened, extra)

    def _views(key: list[Any], which: str, spec: str, size: float, n: float, selected: str, cid: str, opened: Any,
               extra: tuple[Any, ...]) -> tuple[Any, ...]:
        out = [key, totals_text(spec, size, n), source_notice(spec, opened), *weights_offer(spec),
               *keep_selection(spec, size, selected, cid)]
        at = 0
        for t in tabs:
            args, at = extra[at:at + len(t.inputs)], at + len(t.inputs)
            out += t.fill(spec, size, n, selected, *args) if t.name == which else (gr.skip(),) * len(t.outputs)
        return tuple(out)

    # The refresh skips the queue (one HTTP request instead of a join and a stream: ~30 ms of a ~130 ms redraw)
    # and shows no progress overlay (painting it over ~20 outputs and taking it down costs more than the
    # update); _VIEW_SLOTS keeps the queue's bound of two at a time (a new config's trace is CPU work).
    quick = {"show_progress": "hidden", "queue": False, "trigger_mode": "always_last"}
    gr.on([demo.load, c.model.change, c.input_size.change], views, [active, *common, drawn, *extras],
          [drawn, *outputs], api_name="views", api_visibility="private", **quick)
    _wire_controls(c, views, [c.model, active, *common, drawn, *extras], [c.spec_box, c.model, drawn, *outputs],
                   quick)
    for t in tabs:
        def opened(spec: str, size: float, n: float, selected: str, cid: str, _opened: Any, *extra: Any,
                   t: TabView = t) -> tuple[Any, ...]:
            return (t.name, *t.fill(spec, size, n, selected, *extra))

        t.tab.select(opened, [*common, *t.inputs], [active, *t.outputs], api_name=f"open_{t.name}",
                     api_visibility="private", **VIEW_EVENT)


def _wire_controls(c: Controls, views: Callable[..., tuple[Any, ...]], rest: list[Any], outputs: list[Any],
                   quick: dict[str, Any]) -> None:
    """A control moved: the spec it makes and the views of it in one round trip. ``rest`` are the current
    model and what ``views`` reads; ``outputs`` the spec box, the model and what ``views`` fills."""

    def controls_views(*args: Any) -> tuple[Any, ...]:
        """The spec applied and its views drawn (the model's change event then finds them drawn)."""
        k = len(c.controls)
        box, spec = spec_from_controls(*args[:k], args[k])
        which, _, *tail = args[k + 1:]
        return (box, spec, *views(which, spec, *tail))

    def preset_views(*args: Any) -> tuple[Any, ...]:
        """A preset picked (off the queue, where an error raised would show no message): the refusal, if
        any (a preset over a lowered blocks limit), takes the totals' place, and nothing else changes."""
        try:
            return controls_views(*args)
        except gr.Error as exc:
            refusal = f"**Cannot show this preset:** {exc.message}"
            return (gr.skip(),) * 3 + (refusal,) + (gr.skip(),) * (len(outputs) - 4)

    # A dropdown fires "input" twice for one pick (Gradio 6.31); "select" once. A preset pick cannot be
    # invalid, so it skips the queue; the custom fields can be (groups on a BasicBlock), so their refusals
    # go through the queue, which shows them.
    inputs = [*c.controls, *rest]
    gr.on([x.select for x in c.controls if isinstance(x, gr.Dropdown)], preset_views, inputs, outputs,
          api_name="preset_views", api_visibility="private", **quick)
    gr.on([x.input for x in c.controls if not isinstance(x, gr.Dropdown)], controls_views, inputs, outputs,
          api_name="spec_from_controls", api_visibility="private", **VIEW_EVENT)


CSS = (ASSETS / "app.css").read_text()


def launch_options() -> dict[str, Any]:
    """Options every launch uses (the tests' too): styles, one-line error messages, the upload limit."""
    limits = SETTINGS.limits
    return {"css": CSS, "js": (ASSETS / "a11y.js").read_text(), "theme": gr.themes.Default(primary_hue="blue"),
            "show_error": True,
            "max_file_size": int(max(limits.max_upload_mb, limits.max_checkpoint_mb) * 2**20)}


def __getattr__(name: str) -> Any:
    """``app.demo`` for tools that look for it (``gradio app.py``), built on first access only."""
    if name == "demo":
        return build_demo()
    raise AttributeError(name)


def main(args: argparse.Namespace) -> None:
    try:
        device = args.device
        if device != "auto":  # a device asked for is checked now (torch is imported for it)
            load_heavy()
            device = resolve_device(device).type
        if args.weights and not Path(args.weights).is_file():
            raise ValueError(f"--weights: no such file {args.weights}")
    except (ValueError, RuntimeError) as exc:
        raise SystemExit(f"error: {exc}") from None
    configure(AppSettings(device=device, weights=args.weights, limits=args.limits))
    demo = build_demo()
    # What start-up made (modules, the UI) leaves the collector's generations, so the full collections that
    # requests trigger walk only what requests made (a few % of a trace otherwise: benchmarks/choices.py).
    # Start-up garbage is collected first, so nothing unreachable is frozen.
    gc.collect()
    gc.freeze()
    demo.queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=args.host, server_port=args.port, inbrowser=args.inbrowser, prevent_thread_lock=True,
        **launch_options())
    # After the page is served: torch and the handlers' modules (a first request waits for them), then the
    # presets' views, so the first view does not wait behind them.
    load_heavy()
    warm_presets()
    demo.block_thread()


if __name__ == "__main__":
    main(ARGS)
else:  # imported (tests, tools): everything at once, as any module
    load_heavy()
