"""Activation capture: one forward pass whose blocks' tensors are handed over the moment they are made
(``tracing.watch``: the blocks planned once from the dataflow), kept as compact per-block maps and statistics.

For each block: the output (after its activation, if it has one), ‖F(x)‖ of the residual branch (the tensor
that enters the sum, read the moment it is made, before ``out += identity`` changes it in place) and
‖shortcut‖ (identity or the projection), wherever the model's code computes them.
An output that fits its share of the memory budget is kept as it is (no copy); a larger one is pooled to
float16 as it is handed over, so memory stays bounded whatever the depth. Statistics are reduced after the forward,
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
from ..tracing.hooks import running_on
from ..tracing.watch import Plan, logits_of, watched_run


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
    shortcut_kind: str = ""  # what a shape-changing shortcut computes ("1×1 conv s2 + BN", "… (option A)")

    @property
    def shortcut_tag(self) -> str:
        """``proj`` or ``option A`` (empty for the identity): the block's mark in tables."""
        return "" if not self.projection else "option A" if "option A" in self.shortcut_kind else "proj"


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


def _reduce_signed(y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``_reduce`` for an output that may be negative (a pre-activation block's sum): positives counted by a
    comparison, and each channel's maximum (a channel is dead when it is never above 0)."""
    flat = y[0].reshape(y.shape[1], -1)
    return flat.sum(dim=1), torch.stack((_square(flat), (flat > 0).sum().to(flat.dtype))), flat.amax(dim=1)


def _describe(channel_sums: np.ndarray, count: int, square: float, positives: float,
              channel_max: np.ndarray | None = None) -> dict[str, float]:
    """Host side: exact statistics from the reductions. An output >= 0 (after a ReLU) has a dead channel
    exactly where its sum is 0; a signed one where its maximum is not above 0. ``zero_fraction`` is the share
    of positions that are not above 0."""
    mean = float(channel_sums.sum(dtype=np.float64)) / count
    var = max(square / count - mean * mean, 0.0) * count / max(count - 1, 1)
    dead = channel_sums <= 0 if channel_max is None else channel_max <= 0
    return {"mean": mean, "std": math.sqrt(var), "zero_fraction": 1.0 - positives / count,
            "dead_channels": int(dead.sum()), "norm": math.sqrt(square)}


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
    channel_max: Tensor | None = None  # signed outputs only

    @classmethod
    def of(cls, y: Tensor, allowance: int, rectified: bool = True) -> _Reduced:
        return cls(tuple(y.shape[1:]), *_compact(y, allowance), *(_reduce(y) if rectified else _reduce_signed(y)))


def summarise_outputs(outputs: list[Tensor | _Reduced], allowance: int,
                      rectified: list[bool] | None = None) -> list[tuple[BlockMaps, dict[str, float]]]:
    """Block maps and exact statistics of block outputs (1×C×H×W; >= 0 unless ``rectified`` says otherwise),
    reduced on their device where that is not done yet, then read with ONE transfer to the host (one sync on
    a GPU, not one per block)."""
    flags = rectified or [True] * len(outputs)
    reduced = [_Reduced.of(y, allowance, f) if isinstance(y, Tensor) else y for y, f in zip(outputs, flags)]
    if not reduced:
        return []
    host = torch.cat([t for r in reduced for t in (r.sums, r.scalars, *((r.channel_max,) if r.channel_max is not None
                                                                          else ()))]).float().cpu().numpy()
    done, at = [], 0
    for r in reduced:
        c, h, w = r.shape
        channel_sums, (square, positives) = host[at:at + c], host[at + c:at + c + 2].tolist()
        at += c + 2
        channel_max = None
        if r.channel_max is not None:
            channel_max, at = host[at:at + c], at + c
        block = BlockMaps(shape=r.shape, maps=r.maps, channel_means=channel_sums / np.float32(h * w),
                          pooled_from_max=r.maxima)
        done.append((block, _describe(channel_sums, c * h * w, square, positives, channel_max)))
    return done


def capture(
    model: nn.Module,
    x: Tensor,
    device: str | torch.device | None = None,
    budget_bytes: int | None = None,
    keep_full: bool = False,
) -> Capture:
    """Run ``model`` on ``x`` (1×3×H×W) once and keep what the feature-map views need for every block.

    ``model`` is any convolutional residual network (its blocks are recognised by what they compute: see
    ``explorer.tracing.layout``), in any dtype; what it outputs is its logits when they are N×K.

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


def input_like(model: nn.Module, x: Tensor) -> Tensor:
    """``x`` in the model's floating dtype (a half-precision model takes half-precision images)."""
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), x.dtype)
    return x.to(dtype)


class _Recorder:
    """One capture: callbacks on each block's values, made as the forward makes them.

    ‖F(x)‖ and ‖shortcut‖ are taken the moment the branch's output and the shortcut are made, before the sum
    can be written into one of them; an identity shortcut is the previous block's output, whose norm is known.
    Each block's output is held as it is (never changed after its block: the next block only reads it) and
    reduced after the forward, so the reductions do not compete with the convolutions for caches and threads;
    an output that does not fit its share of the budget is pooled at once instead, and nothing else full-size
    is held, so memory stays bounded whatever the depth.
    """

    def __init__(self, model: nn.Module, budget: int, keep_full: bool) -> None:
        self.model, self.budget, self.keep_full = model, budget, keep_full
        self.reset()

    def reset(self) -> None:
        self.squares: dict[tuple[str, str], Tensor] = {}  # (block, "residual" | "shortcut" | "output") -> ‖·‖²
        self.outputs: dict[str, Tensor | _Reduced] = {}  # in forward order
        self.copies: dict[str, dict[str, Tensor]] = {}  # keep_full only

    def _copy(self, block: str, role: str, t: Tensor) -> None:
        if self.keep_full:
            self.copies.setdefault(block, {})[role] = t.detach().clone()

    def watch(self, plan: Plan) -> dict[int, list]:
        self.allowance = max(1, self.budget // max(1, len(plan.blocks)) - 4096)
        watch: dict[int, list] = {}
        outputs = {b.output: b.name for b in plan.blocks}

        def on(value: int, fn) -> None:  # noqa: ANN001
            watch.setdefault(value, []).append(fn)

        self.rectified = {b.name: b.rectified for b in plan.blocks}
        for b in plan.blocks:
            on(b.branch, lambda t, n=b.name: self._square(n, "residual", t))
            if b.shortcut in outputs and not b.projection:
                self.shortcut_of[b.name] = outputs[b.shortcut]  # the previous block's output: its norm is known
            else:
                on(b.shortcut, lambda t, n=b.name: self._square(n, "shortcut", t))
            if self.keep_full:
                on(b.input, lambda t, n=b.name: self._copy(n, "input", t))
                if b.shortcut in outputs and not b.projection:
                    on(b.shortcut, lambda t, n=b.name: self._copy(n, "shortcut", t))
            on(b.output, lambda t, n=b.name: self._output(n, t))
        return watch

    def _square(self, block: str, role: str, t: Tensor) -> None:
        self.squares[block, role] = _square(t.detach().float())
        self._copy(block, role, t)

    def _output(self, block: str, t: Tensor) -> None:
        y = t.detach() if t.requires_grad else t  # the tensor itself (no_grad): held, not copied
        if y.dtype != torch.float32:
            y = y.float()
        c, h, w = y.shape[1:]
        rectified = self.rectified.get(block, True)
        self.outputs[block] = y if 4 * c * h * w <= self.allowance else _Reduced.of(y, self.allowance, rectified)
        self._copy(block, "output", t)

    def run(self, x: Tensor, device: torch.device) -> Capture:
        self.shortcut_of: dict[str, str] = {}
        with running_on(self.model, device):
            x = input_like(self.model, x.to(device))
            plan, out = watched_run(self.model, x, self.watch, replan=self._replan)
        logits = logits_of(out)
        norms = dict(zip(self.squares, torch.stack(list(self.squares.values())).sqrt().tolist())) if self.squares else {}
        stats: list[BlockStats] = []
        maps: dict[str, BlockMaps] = {}
        blocks = {b.name: b for b in plan.blocks}
        names = list(self.outputs)
        summaries = summarise_outputs([self.outputs[n] for n in names], self.allowance,
                                      [self.rectified.get(n, True) for n in names])
        for name, (block_maps, s) in zip(names, summaries):
            norms[name, "output"] = s["norm"]
            b = blocks[name]
            f_norm = norms[name, "residual"]
            s_norm = norms[self.shortcut_of[name], "output"] if name in self.shortcut_of else norms[name, "shortcut"]
            stats.append(BlockStats(
                name=name, stage=b.stage, index=b.index, projection=b.projection,
                channels=block_maps.shape[0], mean=s["mean"], std=s["std"], zero_fraction=s["zero_fraction"],
                dead_channels=s["dead_channels"], residual_norm=f_norm, shortcut_norm=s_norm,
                residual_ratio=f_norm / max(s_norm, 1e-12), shortcut_kind=b.shortcut_kind,
            ))
            maps[name] = block_maps
        scores = logits[0].detach().float().cpu().numpy() if logits is not None else np.zeros(0, np.float32)
        return Capture(model_name=plan.model_name, device=str(device), blocks=stats, maps=maps, logits=scores,
                       full=self.copies)

    def _replan(self) -> None:
        self.reset()
        self.shortcut_of = {}
