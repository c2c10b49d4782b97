"""Activation capture: one forward pass with hooks that keep compact per-block maps and statistics.

For each block: the output (after the final ReLU), ‖F(x)‖ of the residual branch (the last BN's output,
read before ``out += identity`` changes it in place) and ‖shortcut‖ (identity or ``downsample(x)``).
An output that fits its share of the memory budget is kept as it is (no copy); a larger one is pooled to
float16 in its hook, so memory stays bounded whatever the depth. Statistics are reduced after the forward,
on the capture's device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn


from ..limits import DEFAULT_LIMITS
from ..tracing.device import model_device, resolve_device
from ..tracing.hooks import HookFn, forward_hooks, running_on
from ..tracing.identify import infer_config, model_label
from ..tracing.layout import find_layout, residual_end


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
    plus exact per-channel means (and, when pooled, maxima) from the full-resolution tensor."""

    shape: tuple[int, int, int]  # full-resolution (C, H, W)
    maps: np.ndarray  # (C, h, w): the float32 output itself, or float16 pooled to fit the budget
    channel_means: np.ndarray  # float32 (C,), from full resolution
    pooled_from_max: np.ndarray | None = None  # float32 (C,): full-resolution maxima, kept only when pooled

    @property
    def pooled(self) -> bool:
        return self.maps.shape[1:] != self.shape[1:]

    @cached_property
    def channel_maxima(self) -> np.ndarray:
        """Per-channel maximum at full resolution (read from the maps themselves when they are full size)."""
        if self.pooled_from_max is not None:
            return self.pooled_from_max
        return self.maps.reshape(self.maps.shape[0], -1).max(axis=1).astype(np.float32)

    def channel(self, c: int) -> np.ndarray:
        """Channel ``c`` as float32."""
        return self.maps[c].astype(np.float32)

    def mean_map(self) -> np.ndarray:
        """Mean over channels, (h, w) float32: where the block responds, for the overlay."""
        return self.maps.astype(np.float32).mean(axis=0)

    @property
    def nbytes(self) -> int:
        extra = () if self.pooled_from_max is None else (self.pooled_from_max,)
        return sum(a.nbytes for a in (self.maps, self.channel_means, *extra))


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
    request: tuple | None = None  # (model, weights source, path, device) that made it: what a CAM run reloads
    full: dict[str, dict[str, Tensor]] = field(default_factory=dict)  # only with keep_full=True (tests, library)

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.maps.values()) + self.logits.nbytes

    def stats(self, name: str) -> BlockStats:
        return next(b for b in self.blocks if b.name == name)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:  # noqa: ANN001 - IPython's signature
        """Jupyter shows a capture as its across-network plot (sparsity, mean ± std, ‖F(x)‖/‖shortcut‖ per
        block) as plotly's own MIME type, which JupyterLab and VS Code draw without fetching anything; a line of
        text elsewhere."""
        import json

        from .views import network_figure  # views stay out of the records' imports

        projections = sum(b.projection for b in self.blocks)
        return {"application/vnd.plotly.v1+json": json.loads(network_figure(self).to_json()),
                "text/plain": f"Capture of {self.model_name} on {self.device}: {len(self.blocks)} blocks "
                              f"({projections} with a projection shortcut)"}


def _pooled_side(channels: int, height: int, width: int, allowance: int) -> tuple[int, int]:
    """Largest (h, w) with the aspect kept and ``channels * h * w`` float16 values within ``allowance`` bytes."""
    if 4 * channels * height * width <= allowance:  # kept as float32, uncopied
        return height, width
    scale = math.sqrt(allowance / (2 * channels * height * width))  # pooled copies are float16
    return max(1, int(height * scale)), max(1, int(width * scale))


def _square(t: Tensor) -> Tensor:
    """‖t‖² as a 0-d tensor on t's device: a dot product is one pass, vector_norm's scaled accumulation two."""
    v = t.reshape(-1)
    return torch.dot(v, v)


def _reduce(y: Tensor) -> tuple[Tensor, Tensor]:
    """Device side of one block output (1×C×H×W, after ReLU so >= 0): per-channel sums and
    [‖y‖², number of non-zeros]. Three passes, each the cheapest kernel for its job on CPUs (aminmax,
    count_nonzero and comparisons are slower: benchmarks/choices.py)."""
    flat = y[0].reshape(y.shape[1], -1)
    return flat.sum(dim=1), torch.stack((_square(flat), torch.sign(flat).sum()))


def _describe(channel_sums: np.ndarray, count: int, square: float, positives: float) -> dict[str, float]:
    """Host side: exact statistics from the reductions. As the output is >= 0, a channel is dead exactly
    when its sum is 0."""
    mean = float(channel_sums.sum(dtype=np.float64)) / count
    var = max(square / count - mean * mean, 0.0) * count / max(count - 1, 1)
    return {"mean": mean, "std": math.sqrt(var), "zero_fraction": 1.0 - positives / count,
            "dead_channels": int((channel_sums <= 0).sum()), "norm": math.sqrt(square)}


def _compact(y: Tensor, allowance: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The maps a block output leaves for the views, and its full-resolution channel maxima when pooled.

    Within ``allowance`` it is kept as it is, without a copy: a block's output is never modified after the
    block returns (the next block only reads it), so the capture may hold on to it.
    """
    y = y[0]
    c, h, w = y.shape
    ph, pw = _pooled_side(c, h, w, allowance)
    if (ph, pw) == (h, w):
        return y.detach().cpu().numpy(), None
    pooled = F.adaptive_avg_pool2d(y, (ph, pw)).half()
    return pooled.cpu().numpy(), y.reshape(c, -1).amax(dim=1).cpu().numpy()


@dataclass(frozen=True)
class _Reduced:
    """A block output reduced on its device: what stays of it, before the statistics reach the host."""

    shape: tuple[int, int, int]
    maps: np.ndarray
    maxima: np.ndarray | None
    sums: Tensor
    scalars: Tensor

    @classmethod
    def of(cls, y: Tensor, allowance: int) -> _Reduced:
        return cls(tuple(y.shape[1:]), *_compact(y, allowance), *_reduce(y))


def summarise_outputs(outputs: list[Tensor | _Reduced], allowance: int) -> list[tuple[BlockMaps, dict[str, float]]]:
    """Block maps and exact statistics of block outputs (1×C×H×W, >= 0), reduced on their device where that is
    not done yet, then read with ONE transfer to the host (one sync on a GPU, not one per block)."""
    reduced = [_Reduced.of(y, allowance) if isinstance(y, Tensor) else y for y in outputs]
    if not reduced:
        return []
    host = torch.cat([t for r in reduced for t in (r.sums, r.scalars)]).cpu().numpy()
    done, at = [], 0
    for r in reduced:
        c, h, w = r.shape
        channel_sums, (square, positives) = host[at:at + c], host[at + c:at + c + 2].tolist()
        at += c + 2
        block = BlockMaps(shape=r.shape, maps=r.maps, channel_means=channel_sums / np.float32(h * w),
                          pooled_from_max=r.maxima)
        done.append((block, _describe(channel_sums, c * h * w, square, positives)))
    return done


def capture(
    model: nn.Module,
    x: Tensor,
    device: str | torch.device | None = None,
    budget_bytes: int | None = None,
    keep_full: bool = False,
) -> Capture:
    """Run ``model`` on ``x`` (1×3×H×W) once and keep what the feature-map views need for every block.

    ``model`` is any ResNet-family module (see ``explorer.tracing.layout``); its backbone is what runs.

    A CUDA/MPS failure (out of memory, device error) falls back to the CPU with a notice. The model is left
    as it was (hooks removed, flags and device restored). ``keep_full`` also keeps copies of each block's
    input, F(x), shortcut and output (for tests and library use; memory grows with depth).
    """
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"capture needs one image as a 1×3×H×W tensor, got shape {tuple(x.shape)}")
    target = resolve_device(device) if device is not None else model_device(model)
    budget = DEFAULT_LIMITS.capture_bytes if budget_bytes is None else budget_bytes
    try:
        return _Recorder(model, budget, keep_full).run(x, target)
    except RuntimeError as exc:
        if target.type == "cpu":
            raise
        if target.type == "cuda":
            torch.cuda.empty_cache()
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        cap = _Recorder(model, budget, keep_full).run(x, torch.device("cpu"))
        cap.notices.append(f"{target.type.upper()} failed ({first}); ran on the CPU instead")
        return cap


class _Recorder:
    """One capture's hooks, one per role, and what they keep.

    Hooks do only what cannot wait: ‖F(x)‖ at the last BN, before ``out += identity`` overwrites it;
    ‖downsample(x)‖; and a reference to each block's output (never modified after its block returns: the next
    block only reads it). Reducing the outputs after the forward keeps the reductions from competing with the
    convolutions for caches and threads. An output that does not fit its share of the budget is pooled in its
    hook instead, and nothing else full-size is held, so memory stays bounded whatever the depth.
    """

    def __init__(self, model: nn.Module, budget: int, keep_full: bool) -> None:
        self.layout = find_layout(model)
        self.model = self.layout.backbone
        self.name = model_label(model, self.layout, infer_config(self.layout))
        self.blocks = list(self.layout.blocks())
        self.allowance = max(1, budget // max(1, len(self.blocks)) - 4096)
        self.keep_full = keep_full
        self.squares: dict[tuple[str, str], Tensor] = {}  # (block, "residual" | "shortcut") -> ‖·‖²
        self.output_of: dict[int, str] = {}  # id of a block output held whole -> its block
        self.shortcut_from: dict[str, str] = {}  # identity block -> the block whose output is its input
        self.outputs: list[tuple[str, Tensor | _Reduced]] = []  # in forward order
        self.copies: dict[str, dict[str, Tensor]] = {}  # keep_full only

    def hooks(self) -> list[tuple[str, nn.Module, HookFn]]:
        """(block name, module, role) for every block: the end of its residual branch (the last BN, or the
        attention after it), its projection, the block itself."""
        out: list[tuple[str, nn.Module, HookFn]] = []
        for name, block in self.blocks:
            out.append((name, residual_end(block), self.on_residual))
            if getattr(block, "downsample", None) is not None:
                out.append((name, block.downsample, self.on_projection))
            out.append((name, block, self.on_output))
        return out

    def _copy(self, block: str, role: str, t: Tensor) -> None:
        if self.keep_full:
            self.copies.setdefault(block, {})[role] = t.clone()

    def on_residual(self, block: str, module: nn.Module, inputs: tuple, output: Tensor) -> None:
        self.squares[block, "residual"] = _square(output)
        self._copy(block, "residual", output)

    def on_projection(self, block: str, module: nn.Module, inputs: tuple, output: Tensor) -> None:
        self.squares[block, "shortcut"] = _square(output)
        self._copy(block, "shortcut", output)

    def on_output(self, block: str, module: nn.Module, inputs: tuple, output: Tensor) -> None:
        x = inputs[0]
        if getattr(module, "downsample", None) is None:  # identity: ‖x‖ is the previous block's output norm, or measured now
            if id(x) in self.output_of:
                self.shortcut_from[block] = self.output_of[id(x)]
            else:
                self.squares[block, "shortcut"] = _square(x)
            self._copy(block, "shortcut", x)
        c, h, w = output.shape[1:]
        if 4 * c * h * w <= self.allowance:
            self.output_of[id(output)] = block  # alive until the end (held in `outputs`), so the id is unique
            self.outputs.append((block, output))
        else:
            self.outputs.append((block, _Reduced.of(output, self.allowance)))
        self._copy(block, "input", x)
        self._copy(block, "output", output)

    def run(self, x: Tensor, device: torch.device) -> Capture:
        with running_on(self.model, device), forward_hooks(self.hooks()):
            logits = self.model(x.to(device))
        norms = dict(zip(self.squares, torch.stack(list(self.squares.values())).sqrt().tolist())) if self.squares else {}
        projections = {name for name, block in self.blocks if getattr(block, "downsample", None) is not None}
        stages = {stage: i for i, stage in enumerate(self.layout.stages, start=1)}
        stats: list[BlockStats] = []
        maps: dict[str, BlockMaps] = {}
        names = [name for name, _ in self.outputs]
        for name, (block_maps, s) in zip(names, summarise_outputs([y for _, y in self.outputs], self.allowance)):
            norms[name, "output"] = s["norm"]
            f_norm = norms[name, "residual"]
            s_norm = norms[self.shortcut_from[name], "output"] if name in self.shortcut_from else norms[name, "shortcut"]
            stage, index = name.split(".")
            stats.append(BlockStats(
                name=name, stage=stages[stage], index=int(index), projection=name in projections,
                channels=block_maps.shape[0], mean=s["mean"], std=s["std"], zero_fraction=s["zero_fraction"],
                dead_channels=s["dead_channels"], residual_norm=f_norm, shortcut_norm=s_norm,
                residual_ratio=f_norm / max(s_norm, 1e-12),
            ))
            maps[name] = block_maps
        return Capture(model_name=self.name, device=str(device), blocks=stats, maps=maps,
                       logits=logits[0].float().cpu().numpy(), full=self.copies)
