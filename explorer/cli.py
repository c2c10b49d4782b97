"""Command line: ``python -m explorer summary|analyze|export|compare|features MODEL ...`` (or ``resnet-explorer``).

MODEL is a model spec (``resnet50``, ``bottleneck:3-4-6-3:32x4d:v1``: see ``resnet.spec``), the same string the
app shows; flags such as ``--layers`` change it. Bad arguments exit with status 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import replace
import html
import json
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from PIL import Image

from resnet import PRESETS, CheckpointError, ResNetConfig, find_cached, load_weights
from resnet.download import TIMEOUT_S, base_url, download, state_size
from resnet.presets import weights_for
from resnet.weights import hub_checkpoint_dir

from .features.cam import METHODS, parse_target
from .features.cam_views import RANDOM_CAM_NOTICE, cam_overlay, cam_strip
from .features.capture import Capture
from .features.store import FeatureStore
from .features.views import (PNG_LEVEL, STAT_COLUMNS, capture_dict, channel_grid, channel_zoom_figure,
                             default_block, label_names, network_figure, overlay, read_labels, stat_rows, top5)
from .graph.dot import DIRECTIONS
from .figures import STYLES
from .figures.paper import SIZES
from .figures.themes import THEMES
from .graph.export import EXPORT_FORMATS, export_bytes, export_filename
from .graph.levels import LEVELS
from .graph.render import DEFAULT_DPI, MAX_DPI, MIN_DPI, GraphvizMissing
from .limits import MIN_INPUT_SIZE, Limits
from .models import Model, OpenedCheckpoint, is_checkpoint_path, open_checkpoint, parse_model, real_model
from .structure.analysis import analysis_dict
from .structure.compare import compare, format_comparison
from .structure.tables import format_table, text_table
from .structure.memory import MAX_BATCH, memory_dict
from .tracing import check_model_fits, resolve_device, structure_trace, trace

COMMANDS_HELP = {
    "summary": "per-block table and totals",
    "analyze": "channel ratios, stage transitions, receptive fields, cost shares (JSON)",
    "export": "a diagram or paper figure (svg/pdf/png/dot/tex/drawio/mermaid/graphml), the trace (json) or the "
              "block table (csv)",
    "compare": "two models side by side: per-stage differences and cost deltas",
    "features": "run an image: per-block activation statistics, top-5 with trained weights, the views as files",
    "cam": "class activation maps: where in the image a block finds a class (Grad-CAM and others)",
    "weights": "the published ImageNet weights: list them, or download one into the torch hub cache",
}
SPEC_HELP = ("a model spec: a preset (resnet50, ...), block:N-N-N-N[:GxWd][:v1][:dilXYZ][:cN] (e.g. "
             "bottleneck:3-4-6-3:32x4d), timm:NAME[:cN] with timm installed (timm:resnet50d), or a checkpoint file "
             "(.pth/.safetensors: its architecture is inferred)")


class UsageError(Exception):
    """A user mistake: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if "required: command" in message:
            raise UsageError(f"choose a command: {', '.join(COMMANDS_HELP)} (see {self.prog} --help)")
        raise UsageError(f"{message} (see {self.prog} --help)")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=SPEC_HELP)
    p.add_argument("--block", choices=["basic", "bottleneck"], help="change the block type")
    p.add_argument("--layers", type=int, nargs=4, metavar="N", help="change the blocks per stage")
    p.add_argument("--groups", type=int, help="change the groups of the 3×3 conv (ResNeXt)")
    p.add_argument("--width-per-group", type=int, help="change the width per group (64 = ResNet, 128 = Wide ResNet)")
    p.add_argument("--stride-in", choices=["v1.5", "v1"], help="where a Bottleneck puts its stride (default v1.5)")
    p.add_argument("--dilation", type=int, nargs=3, choices=[0, 1], metavar="0|1",
                   help="replace the stride of layer2..layer4 with dilation")
    p.add_argument("--num-classes", type=int, help="classifier outputs (default 1000)")
    p.add_argument("--input-size", type=int, default=224, help=f"input side in px (from {MIN_INPUT_SIZE})")


def _add_image_args(p: argparse.ArgumentParser) -> None:
    """What a real forward pass of an image takes: the image, the weights, the device, the class names."""
    p.add_argument("image", help="image file (JPEG, PNG, WebP, BMP, GIF, TIFF)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", help="checkpoint (.pth state dict or .safetensors); default: random, seed 0 "
                                          "(a checkpoint given as MODEL is used too)")
    source.add_argument("--hub", action="store_true", help="the model's checkpoint from the torch hub cache")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (a GPU failure falls back to the CPU)")
    p.add_argument("--labels", help="class names for the predictions, one per line (default: ImageNet's for "
                                    "1000 outputs, else class indices)")


def model_of(text: str, limits: Limits) -> tuple[Model, OpenedCheckpoint | None]:
    """The model a spec names, or the one a checkpoint file holds (with the opened checkpoint)."""
    if is_checkpoint_path(text):
        opened = open_checkpoint(text, max_bytes=limits.checkpoint_bytes)
        return opened.model, opened
    model = parse_model(text)
    if isinstance(model, ResNetConfig):
        limits.check_depths(model.layers)
    return model, None


def model_from_args(args: argparse.Namespace, limits: Limits) -> Model:
    """The model MODEL names (a spec or a checkpoint file), with the flags' changes, within the limits; an
    opened checkpoint is kept as ``args.opened`` (its weights are the default weights)."""
    config, args.opened = model_of(args.model, limits)
    changes = {k: v for k, v in {
        "block": args.block, "layers": tuple(args.layers) if args.layers else None, "groups": args.groups,
        "width_per_group": args.width_per_group, "stride_in": args.stride_in,
        "replace_stride_with_dilation": tuple(bool(d) for d in args.dilation) if args.dilation else None,
        "num_classes": args.num_classes,
    }.items() if v is not None}
    if changes and not isinstance(config, ResNetConfig):
        raise UsageError(f"--{next(iter(changes)).replace('_', '-')} changes our own ResNet specs, not {config.spec}")
    if changes:
        config = dataclasses.replace(config, **changes)
        limits.check_depths(config.layers)
    return config


def build_parser() -> _Parser:
    parser = _Parser(prog="python -m explorer", description="Explore ResNet architectures. MODEL is " + SPEC_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="command")
    parsers = {name: sub.add_parser(name, help=text, description=text) for name, text in COMMANDS_HELP.items()}
    for name in ("summary", "analyze", "export", "features"):
        _add_model_args(parsers[name])

    summary = parsers["summary"]
    summary.add_argument("--json", action="store_true", help="print the whole trace as JSON")
    summary.add_argument("--device", default=None, help="run a real forward pass on auto/cpu/cuda/mps")
    summary.add_argument("--weights", default=None, help="checkpoint to load (torchvision .pth or .safetensors)")
    summary.add_argument("--batch-size", type=int, default=1,
                         help=f"images per batch for the memory figures (1..{MAX_BATCH}; default 1)")

    export = parsers["export"]
    export.add_argument("--format", choices=EXPORT_FORMATS, help="default: from the -o extension, else svg")
    export.add_argument("--style", choices=STYLES, default="graph",
                        help="graph (Graphviz), paper (3-D boxes and residual arcs, for papers) or flat (2-D paper)")
    export.add_argument("--level", choices=LEVELS, help="graph detail (default blocks; paper figures: stages)")
    export.add_argument("--theme", choices=list(THEMES), default="light", help="paper figures: colour theme")
    export.add_argument("--size", choices=list(SIZES), default="column",
                        help="paper figures: one column (240 pt) or the full page width (504 pt)")
    export.add_argument("--direction", choices=list(DIRECTIONS), default="TB", help="TB (top-bottom) or LR")
    export.add_argument("--collapse", action="store_true", help="blocks level: fold repeated blocks into ×N")
    export.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=f"PNG resolution ({MIN_DPI}..{MAX_DPI})")
    export.add_argument("-o", "--output", help="output file (default: a descriptive name in the current folder)")

    cmp = parsers["compare"]
    cmp.add_argument("a", help=SPEC_HELP)
    cmp.add_argument("b", help="another model spec")
    cmp.add_argument("--input-size", type=int, default=224, help=f"input side in px (from {MIN_INPUT_SIZE})")
    cmp.add_argument("--json", action="store_true", help="print the comparison and both analyses as JSON")

    feats = parsers["features"]
    _add_image_args(feats)
    feats.add_argument("--view", help="block whose views --out writes (default: the first of layer2)")
    feats.add_argument("--k", type=int, default=16, help="channels in the grid (default 16)")
    feats.add_argument("--channel", type=int, help="channel to zoom on (default: the strongest)")
    feats.add_argument("--out", help="folder for crop.png, <block>_top<k>.png, <block>_overlay.png and "
                                     "<block>_plots.html (the zoomed channel and the across-network plot, offline)")
    feats.add_argument("--json", action="store_true", help="print the statistics (and top-5) as JSON")

    cam = parsers["cam"]
    cam.add_argument("model", help=SPEC_HELP)
    _add_image_args(cam)
    cam.add_argument("--block", dest="cam_block", metavar="BLOCK", help="block to map (default: the last one)")
    cam.add_argument("--target", help="class: a name or an index (default: the top-1)")
    cam.add_argument("--method", choices=list(METHODS), default="gradcam", help="default gradcam")
    cam.add_argument("--opacity", type=float, default=0.5, help="of the map over the image (0..1, default 0.5)")
    cam.add_argument("--json", action="store_true", help="print model, block, target, method, the map and the top-5")
    cam.add_argument("--out", help="folder for <block>_<method>_cam.png (over the crop) and <method>_stages.png")

    weights = parsers["weights"]
    weights.add_argument("action", choices=["list", "download"], help="list: every preset's weights; download: one")
    weights.add_argument("arch", nargs="?", help="the preset to download (e.g. resnet50)")
    weights.add_argument("--tag", help="which weights (e.g. IMAGENET1K_V1; default: the best)")
    weights.add_argument("--timeout", type=float, default=TIMEOUT_S, help=f"seconds to wait for the server "
                                                                          f"(default {TIMEOUT_S:g})")
    return parser


def cmd_summary(args: argparse.Namespace, limits: Limits) -> str:
    config = model_from_args(args, limits)
    size = limits.check_input_size(args.input_size)
    structure = structure_trace(config, size)  # on the meta device: it allocates nothing
    memory = memory_dict(structure, args.batch_size)  # checks the batch size before anything runs
    weights = args.weights or (str(args.opened.path) if args.opened and args.device else None)
    if args.device is None and weights is None:
        result = structure
    else:
        check_model_fits(config, size, limits)
        model = real_model(config, init=weights is None)
        if weights:
            load_weights(model, weights, max_bytes=limits.checkpoint_bytes)
        result = replace(trace(model, input_size=size, device=resolve_device(args.device)), model_name=config.spec)
    source = args.opened.notice if args.opened else None
    if args.json:
        return json.dumps({**result.to_dict(), "memory": memory, "checkpoint": source}, indent=1)
    table = format_table(replace(result, memory=structure.memory), memory_batch=args.batch_size)
    return f"{source}\n\n{table}" if source else table


def cmd_analyze(args: argparse.Namespace, limits: Limits) -> str:
    config = model_from_args(args, limits)
    return json.dumps(analysis_dict(structure_trace(config, limits.check_input_size(args.input_size))), indent=1)


def export_format(fmt: str | None, output: str | None) -> str:
    """The format to write: ``--format``, else the extension of ``-o``, else SVG; a disagreement is refused."""
    suffix = Path(output).suffix.lstrip(".").lower() if output else ""
    suffix = {"md": "mermaid", "mmd": "mermaid"}.get(suffix, suffix)
    if fmt is None:
        if suffix and suffix not in EXPORT_FORMATS:
            raise UsageError(f"cannot tell the format from {output!r}: use --format ({', '.join(EXPORT_FORMATS)}) or "
                             "one of those extensions")
        return suffix or "svg"
    if suffix and suffix != fmt:
        raise UsageError(f"-o {output} says .{suffix} but --format is {fmt}: make them agree")
    return fmt


def cmd_export(args: argparse.Namespace, limits: Limits) -> str:
    config = model_from_args(args, limits)
    fmt = export_format(args.format, args.output)
    level = args.level or ("blocks" if args.style == "graph" else "stages")
    try:
        data = export_bytes(config, fmt, input_size=limits.check_input_size(args.input_size), level=level,
                            direction=args.direction, collapse=args.collapse, dpi=args.dpi, style=args.style,
                            theme=args.theme, size=args.size)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.output) if args.output else Path(export_filename(config, fmt, level, args.style, args.theme,
                                                                     args.size))
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    return f"wrote {out} ({len(data):,} bytes)"


def cmd_compare(args: argparse.Namespace, limits: Limits) -> str:
    size = limits.check_input_size(args.input_size)
    a, b = (structure_trace(model_of(text, limits)[0], size) for text in (args.a, args.b))
    c = compare(a, b)
    if args.json:
        return json.dumps({"comparison": c.to_dict(), "a": analysis_dict(a), "b": analysis_dict(b)}, indent=1)
    return format_comparison(c)


def cmd_features(args: argparse.Namespace, limits: Limits) -> str:
    if args.k < 1:
        raise UsageError(f"--k must be at least 1, got {args.k}")
    config = model_from_args(args, limits)
    for path, what in ((args.image, "image"), (args.weights, "--weights")):
        if path and not Path(path).is_file():
            raise UsageError(f"{what}: no such file {path}")
    weights = args.weights or (str(args.opened.path) if args.opened else None)
    source = "file" if weights else "hub" if args.hub else "random"
    labels = read_labels(args.labels)
    _, cap, loaded = FeatureStore(limits).run_image(config, args.image, source, weights, resolve_device(args.device))
    names = list(cap.maps)
    block = args.view or default_block(cap)
    if block not in cap.maps:
        raise UsageError(f"--view: no block {block!r} in {cap.model_name} (blocks: {names[0]} … {names[-1]})")
    predictions = top5(cap, labels) if loaded.trained else {}
    written = _write_views(cap, block, args.k, args.channel, Path(args.out)) if args.out else []
    if args.json:
        return json.dumps({**capture_dict(cap), "weights": loaded.weights_label, "top5": predictions,
                           "written": [str(w) for w in written]}, indent=1)
    lines = [f"{cap.model_name} on {cap.device} · weights: {loaded.weights_label}", *cap.notices, "",
             text_table(list(STAT_COLUMNS), stat_rows(cap), right=set(range(2, len(STAT_COLUMNS))))]
    if predictions:
        lines += ["", "top-5:", *(f"  {p:6.1%}  {name}" for name, p in predictions.items())]
    return "\n".join(lines + [f"wrote {w}" for w in written])


def _plots_page(title: str, figures: list) -> str:
    """Interactive plotly figures on one self-contained page."""
    body = "".join(f.to_html(full_html=False, include_plotlyjs=i == 0) for i, f in enumerate(figures))
    head = f'<meta charset="utf-8"><title>{html.escape(title)}</title>'
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def _write_views(cap: Capture, block: str, k: int, channel: int | None, out: Path) -> list[Path]:
    """The app's views of ``block`` as files: the crop, the top-k grid, the overlay (PNG) and the zoomed
    channel and across-network plots (one standalone HTML page, plotly.js inlined once: it opens offline)."""


    grid, channels = channel_grid(cap, block, k)
    zoom = channel_zoom_figure(cap, block, channels[0] if channel is None else channel)
    try:
        out.mkdir(parents=True, exist_ok=True)
        images = {out / "crop.png": cap.crop, out / f"{block}_top{len(channels)}.png": Image.fromarray(grid),
                  out / f"{block}_overlay.png": Image.fromarray(overlay(cap, block))}
        for path, image in images.items():
            image.save(path, compress_level=PNG_LEVEL)
        plots = out / f"{block}_plots.html"
        plots.write_text(_plots_page(f"{cap.model_name} {block}", [zoom, network_figure(cap, block)]), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return [*images, plots]


def cmd_cam(args: argparse.Namespace, limits: Limits) -> str:
    config, args.opened = model_of(args.model, limits)
    if not Path(args.image).is_file():
        raise UsageError(f"image: no such file {args.image}")
    weights = args.weights or (str(args.opened.path) if args.opened else None)
    source = "file" if weights else "hub" if args.hub else "random"
    store = FeatureStore(limits)
    cid, cap, loaded = store.run_image(config, args.image, source, weights, resolve_device(args.device))
    names = label_names(len(cap.logits), read_labels(args.labels))
    run, _ = store.cam(cid, parse_target(args.target, names))
    block = run.check_block(args.cam_block) if args.cam_block else run.blocks[-1]
    cam = run.cam(block, args.method)
    written = []
    if args.out:
        out = Path(args.out)
        stem = f"{block}_{args.method}"
        try:
            out.mkdir(parents=True, exist_ok=True)
            images = {out / f"{stem}_cam.png": cam_overlay(run, cap.crop, block, args.method, args.opacity),
                      out / f"{args.method}_stages.png": cam_strip(run, cap.crop, args.method, args.opacity)}
            for path, image in images.items():
                Image.fromarray(image).save(path, compress_level=PNG_LEVEL)
        except OSError as exc:
            raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
        written = list(images)
    predictions = top5(cap, read_labels(args.labels))
    if args.json:
        return json.dumps({"model": run.model_name, "block": block, "target": {"index": run.target,
                           "name": names[run.target]}, "method": args.method, "cam": cam.round(6).tolist(),
                           "top5": predictions, "weights": loaded.weights_label,
                           "written": [str(w) for w in written]}, indent=1)
    lines = [f"{run.model_name} · weights: {loaded.weights_label}", *([] if loaded.trained else [RANDOM_CAM_NOTICE]),
             f"{args.method} at {block} ({cam.shape[0]}×{cam.shape[1]}) for {names[run.target]} (class {run.target}): "
             f"peak {cam.max():.4g} at row {int(cam.argmax() // cam.shape[1])}, col {int(cam.argmax() % cam.shape[1])}"]
    return "\n".join(lines + [f"wrote {w}" for w in written])


def cmd_weights(args: argparse.Namespace, limits: Limits) -> str:
    if args.action == "list":
        rows = [[w.arch, w.tag, f"{w.acc1:.1f}%", f"{state_size(w.arch) / 2**20:.0f} MiB",
                 "yes" if find_cached(w.arch, w.tag) else "", w.filename]
                for p in PRESETS.values() for w in sorted(p.weights, key=lambda w: -w.version)]
        table = text_table(["preset", "tag", "top-1", "size", "cached", "file"], rows, right={2, 3})
        return f"{table}\n\ncache: {hub_checkpoint_dir()}; source: {base_url()}"
    if not args.arch:
        raise UsageError("weights download needs a preset, e.g. resnet50 (see weights list)")
    candidates = [w for w in weights_for(args.arch) if args.tag is None or w.tag == args.tag]
    if not candidates:
        raise UsageError(f"no published weights for {args.arch!r}" + (f" tagged {args.tag}" if args.tag else "")
                         + " (see weights list)")

    def progress(done: int, total: int | None) -> None:
        print(f"\r{done / 2**20:7.1f}" + (f" of {total / 2**20:.1f}" if total else "") + " MiB", end="",
              file=sys.stderr, flush=True)

    path = download(candidates[0], progress=progress, timeout=args.timeout)
    print(file=sys.stderr)
    return f"{path} ({candidates[0].description})"


COMMANDS = {"summary": cmd_summary, "export": cmd_export, "compare": cmd_compare, "analyze": cmd_analyze,
            "features": cmd_features, "cam": cmd_cam, "weights": cmd_weights}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        limits = Limits.from_env()
        print(COMMANDS[args.command](args, limits))
    except (UsageError, ValueError, CheckpointError) as exc:  # ImageError and LimitError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GraphvizMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except RuntimeError as exc:  # e.g. a device failure; still one line, still non-zero
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except OSError as exc:  # unreadable input files and the like
        print(f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return 2
    return 0

