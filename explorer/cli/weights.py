"""The published ImageNet weights: list them, or download one into the torch hub cache."""
from __future__ import annotations

import argparse
import sys

from resnet import PRESETS, find_cached
from resnet.download import TIMEOUT_S, base_url, download, state_size
from resnet.presets import weights_for
from resnet.weights import hub_checkpoint_dir

from ..limits import Limits
from ..structure.tables import text_table
from .common import Command, UsageError


def weights_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "download"], help="list: every preset's weights; download: one")
    p.add_argument("arch", nargs="?", help="the preset to download (e.g. resnet50)")
    p.add_argument("--tag", help="which weights (e.g. IMAGENET1K_V1; default: the best)")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help=f"seconds to wait for the server "
                                                                    f"(default {TIMEOUT_S:g})")


def weights(args: argparse.Namespace, limits: Limits) -> str:
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


COMMANDS = (Command("weights", "the published ImageNet weights: list them, or download one into the torch hub cache",
                    weights_arguments, weights),)
