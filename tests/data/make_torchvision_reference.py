"""Regenerate torchvision_reference.json from real torchvision (run once, outside the test suite).

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tv/bin/python tests/data/make_torchvision_reference.py

Records, per preset: every state-dict key with its shape, the parameter count and published GFLOPs;
and, for a few configs, the logits torchvision computes with synthetic weights on a synthetic input.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torchvision
from torchvision.models import resnet as tv

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from synthetic_weights import synthetic_image, synthetic_input, synthetic_state_dict  # noqa: E402

PRESETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
           "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]

# name -> (torchvision constructor kwargs, our ResNetConfig fields)
NUMERIC_CASES = {
    "resnet18": ("resnet18", {}),
    "resnet50": ("resnet50", {}),
    "resnext50_32x4d": ("resnext50_32x4d", {}),
    "resnet50_dilated": ("resnet50", {"replace_stride_with_dilation": [False, True, True]}),
    "resnet18_10cls": ("resnet18", {"num_classes": 10}),
}
INPUT_SIZE = 96
PREPROCESS_SIZES = [(500, 375), (300, 640), (224, 224), (97, 131)]


def main() -> None:
    out: dict = {"torch": torch.__version__, "torchvision": torchvision.__version__, "presets": {}, "numerics": {},
                 "input_size": INPUT_SIZE}
    for name in PRESETS:
        model = getattr(tv, name)()
        weights_enum = torchvision.models.get_model_weights(name)
        meta = next(iter(weights_enum)).meta
        out["presets"][name] = {
            "keys": [[k, list(v.shape)] for k, v in model.state_dict().items()],
            "num_params": sum(p.numel() for p in model.parameters()),
            "gflops": meta["_ops"],
        }
    for case, (name, kwargs) in NUMERIC_CASES.items():
        model = getattr(tv, name)(**kwargs).eval()
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        model.load_state_dict(synthetic_state_dict(shapes), strict=True)
        with torch.no_grad():
            logits = model(synthetic_input(INPUT_SIZE))
        out["numerics"][case] = {"preset": name, "kwargs": kwargs, "logits": [round(v, 6) for v in logits[0].tolist()]}
    # Preprocessing: torchvision's own transforms on synthetic images, sampled every 16 px.
    out["preprocess"] = []
    for w, h in PREPROCESS_SIZES:
        for tag, weights in (("IMAGENET1K_V1", tv.ResNet50_Weights.IMAGENET1K_V1),
                             ("IMAGENET1K_V2", tv.ResNet50_Weights.IMAGENET1K_V2)):
            t = weights.transforms()(synthetic_image(w, h))
            out["preprocess"].append({"size": [w, h], "resize": weights.transforms().resize_size[0],
                                      "shape": list(t.shape), "sum": t.sum().item(),
                                      "samples": [round(v, 6) for v in t[:, ::16, ::16].flatten().tolist()]})
    (HERE / "torchvision_reference.json").write_text(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
