"""``dataset``: one pass of a model over an image folder; per-channel statistics and each channel's top images;
with ``--lesion``, each block removed in turn (and k at once) and what the output loses."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from resnet.preprocess import NORMALISATIONS

from ..lesion.study import Study
from ..limits import Limits
from .common import SPEC_HELP, Command, UsageError, model_from_args


def dataset_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=SPEC_HELP)
    p.add_argument("folder", help="image folder (recursive; one subfolder per class gives labels)")
    p.add_argument("--out", required=True, help="folder for summary.json, channels.csv, top.csv (and the partials "
                                                "that let an interrupted run continue)")
    p.add_argument("--weights", help="checkpoint (default: random, seed 0; a checkpoint given as MODEL is used too)")
    p.add_argument("--hub", action="store_true", help="the model's checkpoint from the torch hub cache")
    p.add_argument("--resize", type=int, help="shorter side before the crop (default: the weights' own, 256; "
                   "a CIFAR model's: 32, as it is)")
    p.add_argument("--crop", type=int, help="centre crop (default: the weights' own, 224; a CIFAR model's "
                   "or a static model file's: its size)")
    p.add_argument("--normalize", choices=list(NORMALISATIONS), help="the mean and std of a dataset (default: "
                   "the model's own: CIFAR-10's for a 10-class CIFAR model, else ImageNet's)")
    p.add_argument("--mean", type=float, nargs=3, metavar="M", help="or give them (default: as --normalize)")
    p.add_argument("--std", type=float, nargs=3, metavar="S", help="(default: as --normalize)")
    p.add_argument("--top-k", type=int, default=16, help="images kept per channel (default 16)")
    p.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default 32)")
    p.add_argument("--workers", type=int, default=2, help="decoding workers (default 2)")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="local (default) or ray (Ray Data)")
    p.add_argument("--ray-address", help="join this Ray cluster (default: start a local one)")
    p.add_argument("--limit", type=int, help="the first N images only")
    p.add_argument("--threads", type=int, help="torch threads per forward (default: torch's)")
    p.add_argument("--lesion", action="store_true", help="also remove each residual block in turn (its branch set to "
                                                         "zero) and measure accuracy, agreement and KL: lesion.csv")
    p.add_argument("--remove-k", type=int, default=0, metavar="K", help="with --lesion: also K random blocks at once, "
                                                                        "k = 1 … K (lesion_k.csv)")
    p.add_argument("--draws", type=int, default=5, metavar="R", help="random draws per k (default 5)")
    p.add_argument("--seed", type=int, default=0, help="the draws' seed (default 0)")
    p.add_argument("--labels", help="with --lesion: the model's class names, one per line in output order; class "
                                     "folders are matched to them by name")
    p.add_argument("--draw-from", choices=["all", "identity"], default="all",
                   help="the draws take any block (default) or identity blocks only (Veit et al.'s variant)")


class _Bar:
    """images/s and the time left, on one line of stderr."""

    def __init__(self) -> None:
        self.start, self.first = time.perf_counter(), None

    def __call__(self, done: int, total: int) -> None:
        if self.first is None:
            self.first = done
        elapsed = time.perf_counter() - self.start
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else float("nan")
        eta = f"{left:,.0f} s left" if left == left else "…"
        print(f"\r{done:,}/{total:,} images · {rate:,.1f} images/s · {eta}   ", end="", file=sys.stderr, flush=True)


def dataset(args: argparse.Namespace, limits: Limits) -> str:
    from ..dataset import DatasetJob, run_dataset
    from ..dataset.folder import preprocessing
    from ..models import own_preprocess

    config = model_from_args(args, limits)
    weights = args.weights or (str(args.opened.path) if args.opened else None)
    if weights and not Path(weights).is_file():
        raise UsageError(f"--weights: no such file {weights}")
    mean, std = NORMALISATIONS[args.normalize] if args.normalize else (None, None)
    pre = preprocessing(args.resize, args.crop, args.mean or mean, args.std or std, limits, own_preprocess(config))
    names = None
    if args.labels:
        from ..features.views import read_labels

        if not Path(args.labels).is_file():
            raise UsageError(f"--labels: no such file {args.labels}")
        try:
            names = read_labels(args.labels)
        except ValueError as exc:
            raise UsageError(f"--labels: {exc}") from None
    job = DatasetJob(config, Path(args.folder), Path(args.out), "file" if weights else "hub" if args.hub else "random",
                     weights, pre, args.top_k, args.batch_size, args.workers, args.device, args.engine,
                     args.ray_address, args.limit, args.threads, limits,
                     Study(args.remove_k, args.draws, args.seed, args.draw_from) if args.lesion else None, names)
    if not args.lesion and (args.remove_k or args.labels):
        raise UsageError(f"{'--remove-k' if args.remove_k else '--labels'} needs --lesion")
    summary = run_dataset(job, _Bar())
    print(file=sys.stderr)
    lines = [f"{summary['model']} over {summary['images_used']:,} images of {summary['folder']} "
             f"({summary['engine']} engine, {summary['seconds']:.1f} s)"]
    if summary.get("batch_lowered_from"):
        lines.append(f"batches of {summary['batch_size']} (not {summary['batch_lowered_from']}): a larger batch "
                     "would need more memory than --max-model-mb allows")
    if summary["skipped"]:
        lines.append(f"skipped {len(summary['skipped'])}: " + "; ".join(f"{s['file']} ({s['reason']})"
                                                                   for s in summary["skipped"][:3]))
    out = Path(args.out)
    if args.lesion:
        acc = summary["accuracy"]
        lines.append(f"full model: top-1 {acc:.2%} on {summary['labelled']:,} labelled images" if acc is not None
                     else f"full model: {summary['labels']}")
    lines += [f"wrote {out / name}" for name in summary["files"]]
    return "\n".join(lines)


COMMANDS = (Command("dataset", "one pass over an image folder: every channel's mean, std, max, active fraction, "
                               "dead channels, and its top images", dataset_arguments, dataset),)
