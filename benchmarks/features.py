"""Feature maps, ResNet-50 (and ResNet-152 memory), in one run against a bare forward pass.

- capture of every block / bare forward (target <= 1.10×);
- image file -> capture + the selected block's grid, overlay, zoom and the across-network plot, encoded as
  the app sends them (PNG, plotly JSON) / bare forward (target <= 2.0×);
- switching to another block's views (the same encoded views, the plot re-marked) afterwards (target <= 0.05 s,
  no forward pass);
- ResNet-152: peak memory of a full capture above the model, against the capture budget (subprocess).
"""
from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from PIL import Image

from explorer.capture import Capture, capture
from explorer.features.store import FeatureStore
from explorer.features.views import PNG_LEVEL, channel_grid, channel_zoom_figure, network_figure, overlay
from explorer.limits import DEFAULT_LIMITS
from resnet import get_preset

from .common import median_times

IMAGE = Path(__file__).resolve().parent.parent / "resnet_explorer" / "assets" / "examples" / "cat.jpg"

_MEMORY_PROBE = r"""
import json, resource, sys, torch
sys.path.insert(0, ".")
from resnet import build, get_preset
from explorer.capture import capture
torch.manual_seed(0)
model = build(get_preset("resnet152")).eval()
x = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    model(x)  # the bare forward's own peak first
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
after_forward = rss()
cap = capture(model, x)
print(json.dumps({"peak_after_forward": after_forward, "peak_after_capture": rss(), "kept": cap.nbytes,
                  "model": sum(p.numel() * 4 for p in model.parameters())}))
"""


def run(repeats: int = 7) -> list[dict]:
    cfg = get_preset("resnet50")
    store = FeatureStore()
    loaded = store.model(cfg, "random", device="cpu")
    model = loaded.model
    x = loaded.preprocess(Image.open(IMAGE))

    def bare() -> None:
        with torch.no_grad():
            model(x)

    def block_views(cap: Capture, block: str) -> None:
        """What the app sends for one block: grid and overlay as PNG, the zoomed channel and the
        across-network plot marking the block as plotly JSON."""
        for image in (channel_grid(cap, block, 16)[0], overlay(cap, block)):
            Image.fromarray(image).save(io.BytesIO(), format="png", compress_level=PNG_LEVEL)
        for fig in (channel_zoom_figure(cap, block, 0), network_figure(cap, block)):
            fig.to_json()

    def end_to_end() -> None:
        """The app's feature run: decode, crop, capture, then the selected block's views."""
        block_views(store.run_image(cfg, IMAGE)[1], "layer2.0")

    # Two groups, each interleaved with its own bare forwards: every feature run stores its capture for
    # block switching, and while that store fills (the first couple of dozen runs of a server) each run
    # takes fresh memory, which would otherwise be charged to the captures measured between them.
    capture_times = median_times({"bare forward": bare, "capture": lambda: capture(model, x)}, repeats=repeats)
    view_times = median_times({"bare forward": bare, "image -> views": end_to_end}, repeats=repeats)
    _, cap, _ = store.run_image(cfg, IMAGE)
    switches = []
    for name in list(cap.maps)[:12]:
        start = time.perf_counter()
        block_views(cap, name)
        switches.append(time.perf_counter() - start)
    probe = subprocess.run([sys.executable, "-c", _MEMORY_PROBE], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parent.parent)
    mem = json.loads(probe.stdout.strip().splitlines()[-1])
    return [{
        "benchmark": "feature maps", "model": "resnet50",
        "bare forward (s)": round(capture_times["bare forward"], 4), "capture (s)": round(capture_times["capture"], 4),
        "capture / bare": round(capture_times["capture"] / capture_times["bare forward"], 3),
        "bare forward, views group (s)": round(view_times["bare forward"], 4),
        "image -> views (s)": round(view_times["image -> views"], 4),
        "image -> views / bare": round(view_times["image -> views"] / view_times["bare forward"], 3),
        "block switch median (s)": round(statistics.median(switches), 4),
        "block switch max (s)": round(max(switches), 4),
        "target": "capture <= 1.10x; image->views <= 2.0x; switch <= 0.05 s",
    }, {
        "benchmark": "capture memory", "model": "resnet152",
        "kept by the capture (MiB)": round(mem["kept"] / 2**20, 1),
        "peak RSS growth during capture, above the bare forward's peak (MiB)":
            round((mem["peak_after_capture"] - mem["peak_after_forward"]) / 2**20, 1),
        "budget (MiB)": DEFAULT_LIMITS.capture_mb,
        "model weights (MiB)": round(mem["model"] / 2**20, 1),
    }]
