"""``visualize``: the picture each chosen channel of a block wants (feature visualization), as PNGs beside a JSON of
the settings and each picture's check against a dataset run of the same model."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from resnet.preprocess import NORMALISATIONS

from ..limits import Limits
from .common import FORCE_HELP, SPEC_HELP, Command, UsageError, model_from_args, write_outputs

CPU_SIZE, CPU_STEPS, GPU_STEPS = 128, 128, 512
METHODS = ("maco", "fourier")  # explorer.visualize.METHODS, named here so that the parser imports no torch
RANDOM_NOTICE = "random weights: these pictures mean nothing (load trained weights to see what a channel has learned)"


def parse_channels(text: str) -> list[int]:
    """``0-63``, ``3,7,9`` or both (``0-3,9``): channel indices in the order given, each once."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise UsageError(f"--channels: {text!r} is not like 0-63 or 3,7,9")
        first, last = int(lo), int(hi or lo)
        if last < first:
            raise UsageError(f"--channels: {part.strip()} runs backwards")
        out += [c for c in range(first, last + 1) if c not in out]
    return out


def visualize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=SPEC_HELP)
    p.add_argument("--block", dest="vis_block", help="the residual block (as the trace names it); with --atlas, "
                                                     "default every block")
    p.add_argument("--channels", help="e.g. 0-63 or 3,7,9 (with --atlas: every channel)")
    p.add_argument("--atlas", action="store_true", help="every channel of --block (or of every block), in shards "
                   "an engine paints; run it again to continue one that stopped")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="with --atlas: local (default) or "
                                                                                "ray (actors, a GPU each)")
    p.add_argument("--ray-address", help="with --engine ray: join this cluster (default: start a local one)")
    p.add_argument("--shard", type=int, default=8, help="with --atlas: channels per shard (default 8)")
    p.add_argument("--method", choices=METHODS, default="maco", help="maco (phase only, natural magnitude; default) "
                                                                     "or fourier (Lucid's)")
    p.add_argument("--steps", type=int, help=f"optimisation steps (default {GPU_STEPS} on a GPU, {CPU_STEPS} on the CPU)")
    p.add_argument("--size", type=int, help=f"the picture's side in px (default: the model's input size; at most "
                                            f"{CPU_SIZE} on the CPU)")
    p.add_argument("--per-channel", type=int, default=1, help="pictures per channel (default 1)")
    p.add_argument("--diversity", type=float, default=0.0, help="with --per-channel: push a channel's pictures apart")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, help="the step size (default 1.0 for maco, 0.2 for fourier)")
    p.add_argument("--batch", type=int, default=8, help="pictures optimised together (default 8)")
    p.add_argument("--spectrum-from", help="maco: a folder whose images give the magnitude (default: the example "
                                           "photos')")
    p.add_argument("--run", help="a dataset run of this model (its --out folder): each picture is checked against it")
    p.add_argument("--weights", help="checkpoint (default: random, seed 0; a checkpoint given as MODEL is used too)")
    p.add_argument("--hub", action="store_true", help="the model's checkpoint from the torch hub cache")
    p.add_argument("--normalize", choices=list(NORMALISATIONS), help="the mean and std of a dataset (default: the "
                                                                     "model's own)")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    p.add_argument("--out", required=True, help="folder for <block>_c<channel>.png and visualize.json")
    p.add_argument("--json", action="store_true", help="print visualize.json")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)


def _progress(pictures: int, steps: int, size: int):  # noqa: ANN202 - the progress callback
    def show(done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        if done == 1:  # the cost, measured on the first step, before the long part
            print(f"{pictures} pictures × {steps} steps at {size} px: about {total / rate:,.0f} s "
                  f"({seconds:.2f} s per step of {min(pictures, total)} pictures)", file=sys.stderr)
        print(f"\r{done:,}/{total:,} steps · {rate:,.1f} steps/s · {(total - done) / max(rate, 1e-9):,.0f} s left   ",
              end="", file=sys.stderr, flush=True)
    return show


def visualize(args: argparse.Namespace, limits: Limits) -> str:
    from ..features.store import FeatureStore
    from ..tracing import resolve_device, trace
    from ..visualize import Settings, check, visualize as run
    from ..visualize.spectrum import folder_magnitude

    config = model_from_args(args, limits)
    weights = args.weights or (str(args.opened.path) if args.opened else None)
    if weights and not Path(weights).is_file():
        raise UsageError(f"--weights: no such file {weights}")
    if args.atlas:
        return _atlas(args, config, weights, limits)
    if not args.vis_block or not args.channels:
        raise UsageError(f"--{'block' if not args.vis_block else 'channels'} is needed (or --atlas for every channel)")
    dev = resolve_device(args.device)
    loaded = FeatureStore(limits).model(config, "file" if weights else "hub" if args.hub else "random", weights, dev)
    pre = loaded.preprocess.normalised(args.normalize) if args.normalize else loaded.preprocess
    gpu = dev.type != "cpu"
    size = args.size or (pre.crop_size if gpu else min(pre.crop_size, CPU_SIZE))
    channels = parse_channels(args.channels)
    blocks = {b.name: b for b in trace(loaded.model, input_size=size, device="meta").blocks}
    if args.vis_block not in blocks:
        names = list(blocks)
        raise UsageError(f"--block: no block {args.vis_block!r} in {config.spec} (blocks: {names[0]} … {names[-1]})")
    width = blocks[args.vis_block].out_shape[0]
    if max(channels) >= width:
        raise UsageError(f"--channels: {args.vis_block} has {width} channels (0–{width - 1}); got {max(channels)}")
    s = Settings(args.method, args.steps or (GPU_STEPS if gpu else CPU_STEPS), size, None, args.lr,
                 per_channel=args.per_channel, diversity=args.diversity, seed=args.seed).check()
    magnitude = folder_magnitude(Path(args.spectrum_from), size, limits) if args.spectrum_from else None
    dataset_run = _dataset_run(args.run, config.spec, loaded.weights_label, limits) if args.run else None
    if not loaded.trained:
        print(RANDOM_NOTICE, file=sys.stderr)
    pictures = run(loaded.model, args.vis_block, channels, s, pre.mean, pre.std, magnitude, dev, args.batch,
                   _progress(len(channels) * s.per_channel, s.steps, size))
    print(file=sys.stderr)
    out = Path(args.out)
    name = lambda p: p.file_name(s.per_channel > 1)  # noqa: E731
    report = {"model": config.spec, "weights": loaded.weights_label, "trained": loaded.trained,
              "settings": dataclasses.asdict(s) | {"lr": s.rate},
              "normalisation": {"mean": list(pre.mean), "std": list(pre.std)}, "run": args.run,
              "pictures": [{"channel": p.channel, "index": p.index, "file": name(p), "mean": p.mean, "peak": p.peak,
                            "device": p.device, "notice": p.notice, "check": _check_dict(check(p, dataset_run))} for p in pictures]}
    text = json.dumps(report, indent=1)
    written = write_outputs({**{out / name(p): p.image for p in pictures}, out / "visualize.json": text}, out,
                            args.force)
    if args.json:
        return text
    lines = [f"{config.spec} {args.vis_block} · weights: {loaded.weights_label}"]
    lines += [p.notice for p in pictures[:1] if p.notice]
    lines += [f"channel {p['channel']}: {p['check']['line']}" for p in report["pictures"]]
    return "\n".join(lines + [f"wrote {w}" for w in written])


def _atlas(args: argparse.Namespace, config: object, weights: str | None, limits: Limits) -> str:
    """``--atlas``: every channel of the block (or blocks), resumable, on the chosen engine."""
    from ..visualize import Settings
    from ..visualize.atlas import AtlasJob, run_atlas

    if args.channels:
        raise UsageError("--atlas paints every channel: leave out --channels")
    if args.shard < 1:
        raise UsageError(f"--shard must be at least 1, got {args.shard}")
    gpu = args.device not in ("cpu",)
    size = args.size or CPU_SIZE
    s = Settings(args.method, args.steps or (GPU_STEPS if gpu else CPU_STEPS), size, None, args.lr,
                 per_channel=args.per_channel, diversity=args.diversity, seed=args.seed).check()
    job = AtlasJob(config, "file" if weights else "hub" if args.hub else "random", weights,
                   (args.vis_block,) if args.vis_block else None, s, Path(args.out), args.normalize, args.shard,
                   args.engine, args.ray_address, args.device, limits)
    start, first = time.perf_counter(), []

    def shown(done: int, total: int) -> None:  # the time left, from the shards this run has painted
        first.append(done) if not first else None
        painted = done - first[0] + 1
        left = (time.perf_counter() - start) / painted * (total - done)
        print(f"\r{done}/{total} shards · about {left:,.0f} s left   ", end="", file=sys.stderr, flush=True)

    summary = run_atlas(job, shown)
    print(file=sys.stderr)
    if args.json:
        return json.dumps(summary, indent=1)
    return (f"{summary['model']} · weights: {summary['weights']} · {len(summary['pictures'])} pictures in "
            f"{summary['shards']} shards ({summary['resumed_from']} were done already) on the {args.engine} engine\n"
            f"wrote {Path(args.out) / 'atlas.json'}")


def _check_dict(c) -> dict:  # noqa: ANN001 - a visualize.check.Check
    return {"peak": c.peak, "mean": c.mean, "top_value": c.top_value, "top_image": c.top_image,
            "path": [list(p) for p in c.path], "line": c.line}


def _dataset_run(folder: str, model: str, weights: str, limits: Limits):  # noqa: ANN202 - a RunFiles
    """The run's files, read as data; refused when they are another model's or other weights' (its numbers would
    not apply)."""
    from ..dataset.views import RunFiles

    if not Path(folder).is_dir():
        raise UsageError(f"--run: no such folder {folder}")
    run = RunFiles.load(folder, limits)
    if run.summary.get("model") != model:
        raise UsageError(f"--run: that run is of {run.summary.get('model')}, not {model}")
    if run.summary.get("weights") != weights:
        raise UsageError(f"--run: that run used other weights ({run.summary.get('weights')}, not {weights})")
    return run


COMMANDS = (Command("visualize", "feature visualization: the picture each channel of a block wants (MACO or "
                                 "Fourier), checked against a dataset run", visualize_arguments, visualize),)
