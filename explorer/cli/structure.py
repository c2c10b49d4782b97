"""Commands about a model's structure (no image, nothing allocated): summary, analyze, export, compare."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from resnet import load_weights

from ..figures import STYLES
from ..figures.paper import SIZES
from ..figures.themes import THEMES
from ..graph.dot import DIRECTIONS
from ..graph.export import EXPORT_FORMATS, export_bytes, export_filename
from ..graph.levels import LEVELS
from ..graph.render import DEFAULT_DPI, MAX_DPI, MIN_DPI
from ..limits import MIN_INPUT_SIZE, Limits
from ..models import real_model
from ..structure.analysis import analysis_dict
from ..structure.compare import compare, format_comparison
from ..structure.memory import MAX_BATCH, memory_dict
from ..structure.tables import format_table
from ..tracing import check_model_fits, resolve_device, structure_trace, trace
from .common import (FORCE_HELP, SPEC_HELP, Command, UsageError, check_new, input_size, model_arguments,
                     model_from_args, model_of, write_outputs)


def summary_arguments(p: argparse.ArgumentParser) -> None:
    model_arguments(p)
    p.add_argument("--json", action="store_true", help="print the whole trace as JSON")
    p.add_argument("--device", default=None, help="run a real forward pass on auto/cpu/cuda/mps")
    p.add_argument("--weights", default=None, help="checkpoint to load (torchvision .pth or .safetensors)")
    p.add_argument("--batch-size", type=int, default=1,
                   help=f"images per batch for the memory figures (1..{MAX_BATCH}; default 1)")


def summary(args: argparse.Namespace, limits: Limits) -> str:
    config = model_from_args(args, limits)
    size = input_size(args, config, limits)
    structure = structure_trace(config, size)  # on the meta device: it allocates nothing
    memory = memory_dict(structure, args.batch_size)  # checks the batch size before anything runs
    weights = args.weights or (str(args.opened.path) if args.opened and args.device else None)
    if args.device is None and weights is None:
        result = structure
    else:
        check_model_fits(config, size, limits)
        model = real_model(config, init=weights is None)
        if weights:
            load_weights(model, weights, max_bytes=limits.checkpoint_bytes, max_keys=limits.max_checkpoint_keys)
        result = replace(trace(model, input_size=size, device=resolve_device(args.device)), model_name=config.spec)
    source = args.opened.notice if args.opened else None
    if args.json:
        return json.dumps({**result.to_dict(), "memory": memory, "checkpoint": source}, indent=1)
    table = format_table(replace(result, memory=structure.memory), memory_batch=args.batch_size)
    return f"{source}\n\n{table}" if source else table


def analyze(args: argparse.Namespace, limits: Limits) -> str:
    config = model_from_args(args, limits)
    return json.dumps(analysis_dict(structure_trace(config, input_size(args, config, limits))), indent=1)


def export_arguments(p: argparse.ArgumentParser) -> None:
    model_arguments(p)
    p.add_argument("--format", choices=EXPORT_FORMATS, help="default: from the -o extension, else svg")
    p.add_argument("--style", choices=STYLES, default="graph",
                   help="graph (Graphviz), paper (3-D boxes and residual arcs, for papers) or flat (2-D paper)")
    p.add_argument("--level", choices=LEVELS, help="graph detail (default blocks; paper figures: stages)")
    p.add_argument("--theme", choices=list(THEMES), default="light", help="paper figures: colour theme")
    p.add_argument("--size", choices=list(SIZES), default="column",
                   help="paper figures: one column (240 pt) or the full page width (504 pt)")
    p.add_argument("--direction", choices=list(DIRECTIONS), default="TB", help="TB (top-bottom) or LR")
    p.add_argument("--collapse", action="store_true", help="blocks level: fold repeated blocks into ×N")
    p.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=f"PNG resolution ({MIN_DPI}..{MAX_DPI})")
    p.add_argument("-o", "--output", help="output file (default: a descriptive name in the current folder)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)


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


def export(args: argparse.Namespace, limits: Limits) -> str:
    config = model_from_args(args, limits)
    fmt = export_format(args.format, args.output)
    level = args.level or ("blocks" if args.style == "graph" else "stages")
    out = Path(args.output or export_filename(config, fmt, level, args.style, args.theme, args.size))
    check_new([out], args.force)
    try:
        data = export_bytes(config, fmt, input_size=input_size(args, config, limits), level=level,
                            direction=args.direction, collapse=args.collapse, dpi=args.dpi, style=args.style,
                            theme=args.theme, size=args.size)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    write_outputs({out: data}, force=args.force)
    return f"wrote {out} ({len(data):,} bytes)"


def compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help=SPEC_HELP)
    p.add_argument("b", help="another model spec")
    p.add_argument("--input-size", type=int, help=f"input side in px (from {MIN_INPUT_SIZE}; default: the first "
                                                  "model's own, 32 for a CIFAR ResNet, else 224)")
    p.add_argument("--json", action="store_true", help="print the comparison and both analyses as JSON")


def compare_models(args: argparse.Namespace, limits: Limits) -> str:
    models = [model_of(text, limits)[0] for text in (args.a, args.b)]
    size = input_size(args, models[0], limits)
    a, b = (structure_trace(m, size) for m in models)
    c = compare(a, b)
    if args.json:
        return json.dumps({"comparison": c.to_dict(), "a": analysis_dict(a), "b": analysis_dict(b)}, indent=1)
    return format_comparison(c)


def explain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=SPEC_HELP)
    p.add_argument("--input-size", type=int, help=f"input side in px (from {MIN_INPUT_SIZE}; default: the model's own)")
    p.add_argument("--backbone", help="a submodule's dotted path: explain it instead of the whole model")
    p.add_argument("--ops", action="store_true", help="also every op the forward ran, as a table")
    p.add_argument("--json", action="store_true", help="print the additions and the outcome as JSON")


def explain_model(args: argparse.Namespace, limits: Limits) -> str:
    """Every addition the forward made and whether it is a residual block, and why (exit 0 either way: the
    answer is the table)."""
    from ..models import meta_model
    from ..tracing.explain import explain

    model, _ = model_of(args.model, limits)
    e = replace(explain(meta_model(model), input_size(args, model, limits), args.backbone), model=model.spec)
    if args.json:
        return json.dumps(e.to_dict(), indent=1)
    return e.table() + (f"\n\n{e.recording.table()}" if args.ops and e.recording else "")


COMMANDS = (
    Command("summary", "per-block table and totals", summary_arguments, summary),
    Command("explain", "every addition the forward made, and why each is or is not a residual block",
            explain_arguments, explain_model),
    Command("analyze", "channel ratios, stage transitions, receptive fields, cost shares (JSON)", model_arguments,
            analyze),
    Command("export", "a diagram or paper figure (svg/pdf/png/dot/tex/drawio/mermaid/graphml), the trace (json) or "
                      "the block table (csv)", export_arguments, export),
    Command("compare", "two models side by side: per-stage differences and cost deltas", compare_arguments,
            compare_models),
)
