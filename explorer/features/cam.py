"""Class activation maps at every block from one forward and one backward pass.

The forward keeps each block's output A (C×h×w); one ``torch.autograd.grad`` of the target logit gives
∂y/∂A at every block at once (no parameter gradients are accumulated, so a shared model is left as it was).
Every method below is a function of A and ∂y/∂A, so switching block or method needs no new pass; switching
class needs a new backward only (the graph is kept), not a new forward.

Methods (maps after the method's ReLU, at the block's own resolution):
- ``gradcam`` (Selvaraju et al. 2017): weights = spatial mean of the gradient; ReLU(Σ_c w_c A_c).
- ``gradcam++`` (Chattopadhyay et al. 2018): weights = Σ_ij α_ij ReLU(g_ij), with
  α = g² / (2g² + Σ_ab A_ab · g³) (the closed form for an exponential of the score); ReLU(Σ_c w_c A_c).
- ``layercam`` (Jiang et al. 2021): ReLU(Σ_c ReLU(g_c) ⊙ A_c), element-wise.
- ``eigencam`` (Muhammad & Yeasin 2020): the activations' first principal component (no gradient):
  A reshaped to (h·w)×C, centred per channel, projected on its first right-singular vector; the sign is
  chosen so that the projection agrees with the mean activation; then ReLU.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from ..tracing.device import model_device, resolve_device
from .methods import GRADIENT_FREE, METHODS
from ..tracing.hooks import eval_mode
from ..tracing.watch import Plan, logits_of, watched_run
from .capture import input_like

EPS = 1e-7


def gradcam(a: Tensor, g: Tensor) -> Tensor:
    w = g.mean(dim=(1, 2))
    return torch.relu(torch.einsum("c,chw->hw", w, a))


def gradcam_pp(a: Tensor, g: Tensor) -> Tensor:
    g2, g3 = g ** 2, g ** 3
    denom = 2 * g2 + a.sum(dim=(1, 2), keepdim=True) * g3
    alpha = torch.where(g != 0, g2 / torch.where(denom != 0, denom, torch.full_like(denom, EPS)), torch.zeros_like(g))
    w = (alpha * torch.relu(g)).sum(dim=(1, 2))
    return torch.relu(torch.einsum("c,chw->hw", w, a))


def layercam(a: Tensor, g: Tensor) -> Tensor:
    return torch.relu((torch.relu(g) * a).sum(dim=0))


def eigencam(a: Tensor, g: Tensor | None = None) -> Tensor:
    c, h, w = a.shape
    x = a.reshape(c, h * w).T.double()
    x = x - x.mean(dim=0, keepdim=True)
    _, _, vt = torch.linalg.svd(x, full_matrices=False)
    projection = x @ vt[0]
    if torch.dot(projection, a.double().mean(dim=0).flatten() - a.double().mean()) < 0:
        projection = -projection
    return torch.relu(projection.reshape(h, w)).float()


COMPUTE: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "gradcam": gradcam, "gradcam++": gradcam_pp, "layercam": layercam, "eigencam": eigencam}


def check_method(method: str) -> str:
    if method not in COMPUTE:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


def parse_target(value: object, names: tuple[str, ...]) -> int | None:
    """A class given as an index (``3``, ``"3"``) or a name (case-insensitive); ``None``/empty: the top-1."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if len(text) > 200:
        raise ValueError(f"a class is a name or an index of at most 200 characters, got {len(text):,}")
    if text.lstrip("-").isdigit():
        return int(text)
    lowered = [n.lower() for n in names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    near = [n for n in names if text.lower() in n.lower()][:3]
    raise ValueError(f"no class named {text!r}" + (f"; did you mean {', '.join(near)}?" if near else
                                                    "; give a class name or an index"))


@dataclass
class CamRun:
    """One image through the network with every block's output kept, and the gradients for one class."""

    model_name: str
    blocks: list[str]
    logits: np.ndarray
    target: int
    device: str
    activations: dict[str, Tensor]  # block -> C×h×w (CPU, float32)
    gradients: dict[str, Tensor] = field(default_factory=dict)  # block -> ∂logit[target]/∂A
    stage_of: dict[str, int] = field(default_factory=dict)  # block -> its stage (1..)
    _outputs: list[Tensor] = field(default_factory=list, repr=False)  # the graph's tensors, for a new class
    _logits: Tensor | None = field(default=None, repr=False)

    @property
    def nbytes(self) -> int:
        return 2 * sum(a.numel() * 4 for a in self.activations.values())

    def check_block(self, block: str) -> str:
        if block not in self.activations:
            raise ValueError(f"no block named {block!r}; blocks are {self.blocks[0]} … {self.blocks[-1]}")
        return block

    def check_target(self, target: int) -> int:
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < len(self.logits):
            raise ValueError(f"class must be an index from 0 to {len(self.logits) - 1}, got {target!r}")
        return int(target)

    def retarget(self, target: int) -> None:
        """Gradients for another class: one backward through the kept graph, no forward."""
        target = self.check_target(target)
        if self._logits is None:
            raise ValueError("this run kept no graph: run the image again")
        grads = torch.autograd.grad(self._logits[0, target], self._outputs, retain_graph=True)
        self.gradients = {b: g[0].detach().float().cpu() for b, g in zip(self.blocks, grads)}
        self.target = target

    def cam(self, block: str, method: str = "gradcam") -> np.ndarray:
        """The block's map (h×w, after the method's ReLU, before any upsampling or normalisation)."""
        a = self.activations[self.check_block(block)]
        g = self.gradients.get(block) if check_method(method) not in GRADIENT_FREE else None
        return COMPUTE[method](a, g).numpy()

    def release(self) -> None:
        """Drop the graph (what a class switch needs), keeping the maps."""
        self._outputs, self._logits = [], None


def cam_run(model: nn.Module, x: Tensor, target: int | None = None, device: str | torch.device | None = None,
            budget_bytes: int | None = None) -> CamRun:
    """Run ``x`` (1×3×H×W) through a residual network ``model`` keeping every block's output, then take the
    gradient of the ``target`` logit (default: the top-1 class) at every block in one backward pass."""
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"a CAM needs one image as a 1×3×H×W tensor, got shape {tuple(x.shape)}")
    dev = model_device(model) if device is None else resolve_device(device)
    names: list[str] = []
    outputs: list[Tensor] = []

    def watch(plan: Plan) -> dict[int, list]:
        def keep(name: str):  # noqa: ANN202
            return lambda t: (names.append(name), outputs.append(t))

        return {b.output: [keep(b.name)] for b in plan.blocks}

    def replan() -> None:
        names.clear()
        outputs.clear()

    home = model_device(model)
    model.to(dev)
    try:
        with eval_mode(model), torch.enable_grad():
            # (whole: the blocks' outputs as the forward made them, for the gradient; row 0 is the image)
            plan, out = watched_run(model, input_like(model, x.to(dev)), watch, replan=replan, whole=True)
        logits = logits_of(out)
        if logits is None:
            raise ValueError("this model outputs feature maps, not class scores: class maps need a classifier")
        run = CamRun(plan.model_name, names, logits[0].detach().float().cpu().numpy(), 0, str(dev),
                     {n: o[0].detach().float().cpu() for n, o in zip(names, outputs)},
                     stage_of={b.name: b.stage for b in plan.blocks}, _outputs=outputs, _logits=logits)
        if budget_bytes is not None and run.nbytes > budget_bytes:
            raise ValueError(f"class maps of every block at this size need {run.nbytes / 2**20:.0f} MiB, over the "
                             f"{budget_bytes / 2**20:.0f} MiB capture budget; use a smaller input or raise --capture-mb")
        run.retarget(int(np.argmax(run.logits)) if target is None else target)
    finally:
        if home != dev:
            model.to(home)
    if home != dev:
        run.release()  # the kept graph would hold the device's memory and refer to weights that moved back
    return run


__all__ = ["CamRun", "GRADIENT_FREE", "METHODS", "cam_run", "check_method", "eigencam", "gradcam", "gradcam_pp",
           "layercam", "parse_target"]
