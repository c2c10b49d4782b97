"""Activation capture: one forward pass with hooks that keep compact per-block maps and statistics.

For each block: the output (after the final ReLU), ‖F(x)‖ of the residual branch (the last BN's output,
read before ``out += identity`` changes it in place) and ‖shortcut‖ (identity or ``downsample(x)``).
Each block is reduced on its device as soon as it returns, to float16 maps pooled to fit a memory budget,
per-channel maxima and means and scalar statistics, so nothing full-size outlives its block.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from resnet import ResNet, is_block

from .hooks import forward_hooks, running_on
from .tracer import resolve_device

DEFAULT_BUDGET_BYTES = 512 * 2**20  # set from explorer.limits


@dataclass(frozen=True)
class BlockStats:
    """Per-block statistics of one image's activations."""

    name: str
    stage: int
    index: int
    projection: bool
    channels: int
    mean: float  # of the block output (after the final ReLU)
    std: float
    zero_fraction: float  # share of exact zeros in the output
    dead_channels: int  # channels that are zero everywhere
    residual_norm: float  # ‖F(x)‖
    shortcut_norm: float  # ‖shortcut(x)‖
    residual_ratio: float  # ‖F(x)‖ / ‖shortcut(x)‖


@dataclass(frozen=True)
class BlockMaps:
    """A block's output: the tensor itself when it fits the budget, else float16 maps pooled to fit,
    plus exact per-channel maxima and means from the full-resolution tensor."""

    shape: tuple[int, int, int]  # full-resolution (C, H, W)
    maps: np.ndarray  # (C, h, w): the float32 output itself, or float16 pooled to fit the budget
    hi: np.ndarray  # float32 (C,): channel maximum at full resolution
    channel_means: np.ndarray  # float32 (C,), from full resolution

    def channel(self, c: int) -> np.ndarray:
        """Channel ``c`` as float32."""
        return self.maps[c].astype(np.float32)

    def mean_map(self) -> np.ndarray:
        """Mean over channels, (h, w) float32: where the block responds, for the overlay."""
        return self.maps.astype(np.float32).mean(axis=0)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.maps, self.hi, self.channel_means))


@dataclass
class Capture:
    """Everything one image's forward pass left for the views."""

    model_name: str
    device: str
    blocks: list[BlockStats]
    maps: dict[str, BlockMaps]
    logits: np.ndarray  # (num_classes,)
    crop: Image.Image | None = None
    notices: list[str] = field(default_factory=list)
    full: dict[str, dict[str, Tensor]] = field(default_factory=dict)  # only with keep_full=True (tests, library)

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.maps.values()) + self.logits.nbytes

    def stats(self, name: str) -> BlockStats:
        return next(b for b in self.blocks if b.name == name)


def _pooled_side(channels: int, height: int, width: int, allowance: int) -> tuple[int, int]:
    """Largest (h, w) with the aspect kept and ``channels * h * w`` float16 values within ``allowance`` bytes."""
    if 4 * channels * height * width <= allowance:  # kept as float32, uncopied
        return height, width
    scale = math.sqrt(allowance / (2 * channels * height * width))  # pooled copies are float16
    return max(1, int(height * scale)), max(1, int(width * scale))


def _summarise(y: Tensor, allowance: int) -> tuple[BlockMaps, dict[str, float]]:
    """One block output (1×C×H×W, after ReLU so >= 0) -> compact maps and exact statistics.

    Each reduction is one cheap pass (aminmax, count_nonzero and uint8 casts are several times slower on
    CPUs).
    """
    y = y[0].float()
    c, h, w = y.shape
    flat = y.reshape(c, -1)
    hi = flat.amax(dim=1)  # outputs are >= 0: a channel whose maximum is 0 is dead
    sums = flat.sum(dim=1)
    norm = float(torch.linalg.vector_norm(flat))
    positives = float(torch.sign(flat).sum())  # outputs are >= 0, so this counts the non-zeros
    ph, pw = _pooled_side(c, h, w, allowance)
    pooled = F.adaptive_avg_pool2d(y, (ph, pw)) if (ph, pw) != (h, w) else y
    count = flat.numel()
    mean = float(sums.sum()) / count
    var = max(norm * norm / count - mean * mean, 0.0) * count / max(count - 1, 1)
    stats = {"mean": mean, "std": math.sqrt(var), "zero_fraction": 1.0 - positives / count,
             "dead_channels": int((hi <= 0).sum()), "norm": norm}
    # Unpooled outputs are kept as they are, without a copy: a block's output is never modified after the
    # block returns (the next block only reads it), so the hook may hold on to it.
    kept = pooled.half() if pooled is not y else pooled.detach()
    maps = BlockMaps(shape=(c, h, w), maps=kept.cpu().numpy(), hi=hi.cpu().numpy(),
                     channel_means=(sums / flat.shape[1]).cpu().numpy())
    return maps, stats


def capture(
    model: ResNet,
    x: Tensor,
    device: str | torch.device | None = None,
    budget_bytes: int | None = None,
    keep_full: bool = False,
) -> Capture:
    """Run ``model`` on ``x`` (1×3×H×W) once and keep what the feature-map views need for every block.

    A CUDA/MPS failure (out of memory, device error) falls back to the CPU with a notice. The model is left
    as it was (hooks removed, flags and device restored). ``keep_full`` also keeps copies of each block's
    input, F(x), shortcut and output (for tests and library use; memory grows with depth).
    """
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"capture needs one image as a 1×3×H×W tensor, got shape {tuple(x.shape)}")
    target = resolve_device(device) if device is not None else next(model.parameters()).device
    budget_bytes = DEFAULT_BUDGET_BYTES if budget_bytes is None else budget_bytes
    try:
        return _capture(model, x, target, budget_bytes, keep_full, [])
    except RuntimeError as exc:
        if target.type == "cpu":
            raise
        if target.type == "cuda":
            torch.cuda.empty_cache()
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        notice = f"{target.type.upper()} failed ({first}); ran on the CPU instead"
        return _capture(model, x, torch.device("cpu"), budget_bytes, keep_full, [notice])


def _capture(model: ResNet, x: Tensor, device: torch.device, budget: int, keep_full: bool,
             notices: list[str]) -> Capture:
    """The forward pass under hooks, then the per-block reductions.

    Hooks do only what cannot wait: ‖F(x)‖ before the add overwrites it, ‖downsample(x)‖, and a reference
    to each block's output (never modified after its block returns). Reducing the outputs after the forward
    keeps the reductions from competing with the convolutions for caches and threads. An output that does
    not fit the budget is pooled in its hook instead, so memory stays bounded.
    """
    blocks = [(name, m) for name, m in model.named_modules() if is_block(m)]
    allowance = max(1, budget // max(1, len(blocks)) - 4096)
    last_bn = {f"{name}.{'bn3' if hasattr(m, 'bn3') else 'bn2'}": name for name, m in blocks}
    ds = {f"{name}.downsample": name for name, m in blocks if m.downsample is not None}
    f_norms: dict[str, Tensor] = {}
    ds_norms: dict[str, Tensor] = {}
    copies: dict[str, dict[str, Tensor]] = {}  # keep_full only
    recorded: list[tuple[str, bool, Tensor, Tensor | tuple[BlockMaps, dict[str, float]]]] = []

    def on_module(name: str, module: nn.Module, inputs: tuple, output: Tensor) -> None:
        if name in last_bn:  # F(x): read now, before `out += identity` changes this very tensor
            owner = last_bn[name]
            f_norms[owner] = torch.linalg.vector_norm(output)
            if keep_full:
                copies.setdefault(owner, {})["residual"] = output.clone()
        elif name in ds:
            ds_norms[ds[name]] = torch.linalg.vector_norm(output)
            if keep_full:
                copies.setdefault(ds[name], {})["shortcut"] = output.clone()
        else:  # a block: inputs[0] is x, output is relu(F(x) + shortcut)
            c, h, w = output.shape[1:]
            fits = 4 * c * h * w <= allowance
            recorded.append((name, module.downsample is not None, inputs[0],
                             output if fits else _summarise(output, allowance)))
            if keep_full:
                entry = copies.setdefault(name, {})
                entry.update(input=inputs[0].clone(), output=output.clone())
                entry.setdefault("shortcut", entry["input"])

    watched = [(n, m) for n, m in model.named_modules() if n in last_bn or n in ds] + blocks
    with running_on(model, device), forward_hooks(watched, on_module):
        logits = model(x.to(device))

    stats: list[BlockStats] = []
    maps: dict[str, BlockMaps] = {}
    norm_of: dict[int, float] = {}  # block output norms: the next block's identity shortcut
    for name, projection, x_in, out in recorded:
        block_maps, s = _summarise(out, allowance) if isinstance(out, Tensor) else out
        if projection:
            s_norm = float(ds_norms[name])
        else:  # identity: x is the previous block's output (or the stem's)
            s_norm = norm_of.get(id(x_in)) or float(torch.linalg.vector_norm(x_in))
        if isinstance(out, Tensor):
            norm_of[id(out)] = s["norm"]
        f_norm = float(f_norms[name])
        stage, index = (int(p) for p in name.removeprefix("layer").split("."))
        stats.append(BlockStats(
            name=name, stage=stage, index=index, projection=projection, channels=block_maps.shape[0],
            mean=s["mean"], std=s["std"], zero_fraction=s["zero_fraction"], dead_channels=s["dead_channels"],
            residual_norm=f_norm, shortcut_norm=s_norm, residual_ratio=f_norm / max(s_norm, 1e-12),
        ))
        maps[name] = block_maps
    return Capture(model_name=model.config.slug, device=str(device), blocks=stats, maps=maps,
                   logits=logits[0].float().cpu().numpy(), notices=notices, full=copies)
