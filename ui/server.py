"""Start-up: settings from the flags, the page served, then the torch side loaded and the presets warmed (so the
first view does not wait behind them)."""
from __future__ import annotations

import argparse
import gc
from pathlib import Path

from explorer.tracing.patching import forwards
from explorer.trust import guard_process

from . import lib
from .context import APP
from .page import build_demo, launch_options
from .settings import AppSettings


def serve(args: argparse.Namespace) -> None:
    """Serve the app as the flags say, until interrupted."""
    guard_process()  # no torch.load of an upload unpickles more than tensors (explorer.trust)
    try:
        device = args.device
        if device != "auto":  # a device asked for is checked now (torch is imported for it)
            device = lib.resolve_device(device).type
        if args.weights and not Path(args.weights).is_file():
            raise ValueError(f"--weights: no such file {args.weights}")
    except (ValueError, RuntimeError) as exc:
        raise SystemExit(f"error: {exc}") from None
    APP.configure(AppSettings(device=device, weights=args.weights, limits=args.limits, datasets=args.datasets,
                              runs=args.runs))
    demo = build_demo()
    # What start-up made (modules, the UI) leaves the collector's generations, so the full collections that
    # requests trigger walk only what requests made (a few % of a trace otherwise: benchmarks/choices.py).
    # Start-up garbage is collected first, so nothing unreachable is frozen.
    gc.collect()
    gc.freeze()
    demo.queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=args.host, server_port=args.port, inbrowser=args.inbrowser, prevent_thread_lock=True,
        **launch_options())
    lib.load()
    with forwards():
        lib.warm_presets()
    demo.block_thread()
