"""Commands that run an image through the model: features (per-block statistics and views) and cam (class
activation maps)."""
from __future__ import annotations

import argparse
import html
import json
from pathlib import Path

from ..features.cam import METHODS, parse_target
from ..features.cam_views import RANDOM_CAM_NOTICE, cam_overlay, cam_strip
from ..features.capture import Capture
from ..features.views import (STAT_COLUMNS, capture_dict, channel_grid, channel_zoom_figure, default_block,
                              label_names, network_figure, overlay, read_labels, stat_rows, top5)
from ..limits import Limits
from ..structure.tables import text_table
from ..models import own_classes
from .common import (FORCE_HELP, SPEC_HELP, Command, Output, UsageError, image_arguments, model_arguments, run_image,
                     write_outputs)


def features_arguments(p: argparse.ArgumentParser) -> None:
    model_arguments(p)
    image_arguments(p)
    p.add_argument("--view", help="block whose views --out writes (default: the first of layer2)")
    p.add_argument("--k", type=int, default=16, help="channels in the grid (default 16)")
    p.add_argument("--channel", type=int, help="channel to zoom on (default: the strongest)")
    p.add_argument("--out", help="folder for crop.png, <block>_top<k>.png, <block>_overlay.png and "
                                 "<block>_plots.html (the zoomed channel and the across-network plot, offline)")
    p.add_argument("--json", action="store_true", help="print the statistics (and top-5) as JSON")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)


def _plots_page(title: str, figures: list) -> str:
    """Interactive plotly figures on one self-contained page (plotly.js inlined once: it opens offline)."""
    body = "".join(f.to_html(full_html=False, include_plotlyjs=i == 0) for i, f in enumerate(figures))
    head = f'<meta charset="utf-8"><title>{html.escape(title)}</title>'
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def _views(cap: Capture, block: str, k: int, channel: int | None, out: Path) -> dict[Path, Output]:
    """The app's views of ``block`` as files: the crop, the top-k grid, the overlay, and the zoomed channel and
    across-network plots on one page."""
    grid, channels = channel_grid(cap, block, k)
    zoom = channel_zoom_figure(cap, block, channels[0] if channel is None else channel)
    return {out / "crop.png": cap.crop, out / f"{block}_top{len(channels)}.png": grid,
            out / f"{block}_overlay.png": overlay(cap, block),
            out / f"{block}_plots.html": _plots_page(f"{cap.model_name} {block}", [zoom, network_figure(cap, block)])}


def features(args: argparse.Namespace, limits: Limits) -> str:
    if args.k < 1:
        raise UsageError(f"--k must be at least 1, got {args.k}")
    if args.out and Path(args.out).is_file():
        raise UsageError(f"--out {args.out} is a file; name a folder")
    labels = read_labels(args.labels)
    _, _, cap, loaded = run_image(args, limits)
    labels = labels or own_classes(args.resolved)
    names = list(cap.maps)
    block = args.view or default_block(cap)
    if block not in cap.maps:
        raise UsageError(f"--view: no block {block!r} in {cap.model_name} (blocks: {names[0]} … {names[-1]})")
    predictions = top5(cap, labels) if loaded.trained else {}
    written = write_outputs(_views(cap, block, args.k, args.channel, Path(args.out)), Path(args.out),
                            args.force) if args.out else []
    if args.json:
        return json.dumps({**capture_dict(cap), "weights": loaded.weights_label, "top5": predictions,
                           "written": [str(w) for w in written]}, indent=1)
    lines = [f"{cap.model_name} on {cap.device} · weights: {loaded.weights_label}", *cap.notices, "",
             text_table(list(STAT_COLUMNS), stat_rows(cap), right=set(range(2, len(STAT_COLUMNS))))]
    if predictions:
        lines += ["", "top-5:", *(f"  {p:6.1%}  {name}" for name, p in predictions.items())]
    return "\n".join(lines + [f"wrote {w}" for w in written])


def cam_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=SPEC_HELP)
    image_arguments(p)
    p.add_argument("--block", dest="cam_block", metavar="BLOCK", help="block to map (default: the last one)")
    p.add_argument("--target", help="class: a name or an index (default: the top-1)")
    p.add_argument("--method", choices=list(METHODS), default="gradcam", help="default gradcam")
    p.add_argument("--opacity", type=float, default=0.5, help="of the map over the image (0..1, default 0.5)")
    p.add_argument("--json", action="store_true", help="print model, block, target, method, the map and the top-5")
    p.add_argument("--out", help="folder for <block>_<method>_cam.png (over the crop) and <method>_stages.png")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)


def cam(args: argparse.Namespace, limits: Limits) -> str:
    if not 0 <= args.opacity <= 1:  # checked before anything runs or any folder is made
        raise UsageError(f"--opacity must be from 0 to 1, got {args.opacity:g}")
    labels = read_labels(args.labels)
    store, cid, cap, loaded = run_image(args, limits)
    labels = labels or own_classes(args.resolved)
    names = label_names(len(cap.logits), labels)
    run, _ = store.cam(cid, parse_target(args.target, names))
    block = run.check_block(args.cam_block) if args.cam_block else run.blocks[-1]
    cam_map = run.cam(block, args.method)
    written = []
    if args.out:
        out = Path(args.out)
        written = write_outputs({out / f"{block}_{args.method}_cam.png": cam_overlay(run, cap.crop, block, args.method,
                                                                                    args.opacity),
                                 out / f"{args.method}_stages.png": cam_strip(run, cap.crop, args.method, args.opacity)},
                                out, args.force)
    predictions = top5(cap, labels)
    if args.json:
        return json.dumps({"model": run.model_name, "block": block, "target": {"index": run.target,
                           "name": names[run.target]}, "method": args.method, "cam": cam_map.round(6).tolist(),
                           "top5": predictions, "weights": loaded.weights_label,
                           "written": [str(w) for w in written]}, indent=1)
    peak = int(cam_map.argmax())
    lines = [f"{run.model_name} · weights: {loaded.weights_label}", *([] if loaded.trained else [RANDOM_CAM_NOTICE]),
             f"{args.method} at {block} ({cam_map.shape[0]}×{cam_map.shape[1]}) for {names[run.target]} (class "
             f"{run.target}): peak {cam_map.max():.4g} at row {peak // cam_map.shape[1]}, col {peak % cam_map.shape[1]}"]
    return "\n".join(lines + [f"wrote {w}" for w in written])


COMMANDS = (
    Command("features", "run an image: per-block activation statistics, top-5 with trained weights, the views as "
                        "files", features_arguments, features),
    Command("cam", "class activation maps: where in the image a block finds a class (Grad-CAM and others)",
            cam_arguments, cam),
)
