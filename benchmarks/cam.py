"""Class activation maps (#13) on ResNet-50 at 224 px, side by side with a bare forward pass:

- image tensor -> maps at every block for one class (one forward + one backward). Target <= 3.2x bare.
- switching block / method / opacity on a kept run (overlay + raw map + strip). Target <= 0.05 s.
- switching class (one backward through the kept graph). Target <= 2.5x bare.
- what a run keeps (activations and gradients of every block) against the capture budget.
"""
from __future__ import annotations

import torch
from PIL import Image

from explorer.features.cam import cam_run
from explorer.features.cam_views import cam_figure, cam_overlay, cam_strip
from explorer.limits import DEFAULT_LIMITS
from resnet import build, get_preset

from .common import median_times


def run(repeats: int = 7) -> list[dict]:
    torch.manual_seed(0)
    model = build(get_preset("resnet50")).eval()
    x = torch.randn(1, 3, 224, 224)
    crop = Image.new("RGB", (224, 224), (120, 110, 100))
    kept = cam_run(model, x)
    classes = iter(range(10**6))

    def bare() -> None:
        with torch.no_grad():
            model(x)

    def switch_view() -> None:
        cam_overlay(kept, crop, "layer3.2", "gradcam++", 0.4)
        cam_figure(kept, "layer3.2", "gradcam++", "class")
        cam_strip(kept, crop, "gradcam++", 0.4)

    times = median_times({"bare forward": bare, "cam run": lambda: cam_run(model, x),
                          "switch block/method/opacity": switch_view,
                          "switch class": lambda: kept.retarget(next(classes) % 1000)}, repeats=repeats)
    base = times["bare forward"]
    return [{
        "benchmark": "class activation maps", "model": "resnet50",
        **{f"{k} (s)": round(v, 4) for k, v in times.items()},
        "cam run / bare": round(times["cam run"] / base, 3),
        "switch class / bare": round(times["switch class"] / base, 3),
        "kept (MiB)": round(kept.nbytes / 2**20, 1), "capture budget (MiB)": DEFAULT_LIMITS.capture_mb,
        "target": "run <= 3.2x; view switch <= 0.05 s; class switch <= 2.5x",
    }]
