"""Start-up: settings from the flags, the page served, then the torch side loaded and the presets warmed (so the
first view does not wait behind them)."""
from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from explorer.limits import Limits
from explorer.tracing.patching import forwards
from explorer.trust import guard_process

from . import lib
from .landing import compute as compute_landing
from .landing import save as keep_landing
from .context import APP
from .handlers.model import opened_notice
from .page import build_demo, launch_options
from .settings import DEFAULT_SPEC, AppSettings


def open_at_start(path: Path, limits: Limits) -> tuple[str, str | None, str]:
    """The model ``--open`` names, checked and recognised before the page is served: (its spec, the checkpoint
    whose weights run, for a state dict, and the line saying where it came from). A model file carries its own
    weights."""
    from explorer.models import open_checkpoint, parse_model
    from explorer.sources import is_source_path, open_model_file

    if is_source_path(str(path)):
        model = open_model_file(path, limits.checkpoint_bytes, limits=limits)
        spec, weights, where = model.spec, None, f"from {model.title}"
    else:
        opened = open_checkpoint(path, max_bytes=limits.checkpoint_bytes, max_keys=limits.max_checkpoint_keys)
        spec, weights, where = opened.model.spec, str(path), opened.notice
    lib.structure_trace(parse_model(spec), 224)  # a file the explorer cannot read as a ResNet: refused now
    return spec, weights, opened_notice(where)


FIRST_PAINT_S = 1.5  # how long the torch side waits after the page is served


def save_landing(spec: str) -> None:
    """The landing view saved for the next start's first paint (``landing``); a failure costs only that."""
    try:
        keep_landing(compute_landing(spec))
    except Exception:  # noqa: BLE001 - the page itself shows any refusal
        pass


def serve(args: argparse.Namespace) -> None:
    """Serve the app as the flags say, until interrupted."""
    guard_process()  # no torch.load of an upload unpickles more than tensors (explorer.trust)
    try:
        device = args.device
        if device != "auto":  # a device asked for is checked now (torch is imported for it)
            device = lib.resolve_device(device).type
        if args.weights and not Path(args.weights).is_file():
            raise ValueError(f"--weights: no such file {args.weights}")
        landing, weights, notice = (open_at_start(args.open_file, args.limits) if args.open_file
                                    else (DEFAULT_SPEC, None, ""))
    except (ValueError, RuntimeError, TypeError) as exc:  # NotAResNet is a TypeError; the rest are ValueErrors
        raise SystemExit(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    APP.configure(AppSettings(device=device, weights=weights or args.weights, limits=args.limits,
                              datasets=args.datasets, runs=args.runs, landing=landing))
    demo = build_demo(notice=notice, compute_first=bool(args.open_file))  # (--open has loaded torch already)
    # What start-up made (modules, the UI) leaves the collector's generations, so the full collections that
    # requests trigger walk only what requests made (a few % of a trace otherwise: benchmarks/choices.py).
    # Start-up garbage is collected first, so nothing unreachable is frozen.
    gc.collect()
    gc.freeze()
    demo.queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=args.host, server_port=args.port, inbrowser=args.inbrowser, prevent_thread_lock=True,
        **launch_options())
    # The first visitor's browser fetches some sixty script chunks right after the page: importing torch at the
    # same moment (it holds the GIL for seconds) made them arrive 2 s later (benchmarks/startup.py, "landing").
    # A request that needs torch before then imports it itself (lib's lock).
    time.sleep(FIRST_PAINT_S)
    lib.load()
    with forwards():
        lib.warm_presets()
        save_landing(APP.settings.landing)
    demo.block_thread()
