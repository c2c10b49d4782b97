"""The class-activation-map methods, in words: what the UI and the CLI offer (no torch needed to list them)."""
from __future__ import annotations

METHODS: dict[str, str] = {
    "gradcam": "Grad-CAM: each channel weighted by its mean gradient; where the evidence for the class is.",
    "gradcam++": "Grad-CAM++: channels weighted by positive gradients only, pixel by pixel; better for several "
                 "instances of the class.",
    "layercam": "LayerCAM: every position weighted by its own positive gradient; finer maps at shallow blocks.",
    "eigencam": "EigenCAM: the activations' first principal component; no gradient, so the same for every class.",
}
GRADIENT_FREE = ("eigencam",)
