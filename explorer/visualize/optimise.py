"""Feature visualization: the picture that maximises one channel's mean activation at a residual block's output,
for any model the explorer opens. Many channels (and several pictures per channel) are one batch; each picture
has its own seed, parameters and random crops, so a batch equals its pictures optimised one at a time.

The forward runs only as far as the block (``tracing.watch.run_until``; the first step, and any step whose ops
are not the plan's, runs it whole), under the model's own normalisation, and in the first steps of a deep block
with ReLU gradients redirected (``relu``).

Examples:
    >>> from explorer.visualize import Settings, visualize
    >>> pictures = visualize(model, "layer3.0", [0, 5, 9], Settings(method="maco", steps=128, size=128))
    >>> pictures[0].image.save("layer3.0_0.png")
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ..features.capture import input_like
from ..tracing.device import model_device, resolve_device
from ..tracing.hooks import eval_mode
from ..tracing.static import fixed_batch, padded
from ..tracing.watch import Plan, plan_for, run_until, watched_run
from .param import Fourier, Maco, shipped_magnitude
from .relu import RedirectedRelu
from .robust import Robustness

METHODS = ("maco", "fourier")


class Cancelled(Exception):
    """The caller's ``cancel()`` said stop."""


@dataclass(frozen=True)
class Settings:
    method: str = "maco"  # or "fourier"
    steps: int = 256
    size: int = 224  # the picture's side
    input_size: int | None = None  # the side each crop is shown to the model at (default: size)
    lr: float | None = None  # Adam's step (default: 1.0 for MACO's phase, as Horama; 0.05 for Fourier, as Lucid)
    decay: float = 1.0  # Fourier's 1/f^decay
    robustness: Robustness = field(default_factory=Robustness)
    warmup: int | None = None  # steps with ReLU gradients redirected (default: steps // 8 past the middle block)
    per_channel: int = 1  # pictures per channel
    diversity: float = 0.0  # weight of the penalty on a channel's pictures looking alike
    seed: int = 0

    def check(self) -> Settings:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name, low in (("steps", 1), ("size", 16), ("per_channel", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}, got {getattr(self, name)}")
        return self

    @property
    def rate(self) -> float:
        return self.lr if self.lr is not None else 1.0 if self.method == "maco" else 0.05

    def key(self) -> tuple:
        return tuple(sorted((k, str(v)) for k, v in asdict(self).items()))


@dataclass
class Visualization:
    """One optimised picture and what it reaches, measured on the whole picture (no crop, no noise)."""

    block: str
    channel: int
    index: int  # which of the channel's pictures
    pixels: np.ndarray  # H×W×3 uint8
    mean: float  # the channel's mean activation (the objective)
    peak: float  # its spatial maximum (what a dataset run ranks images by)
    path: dict[str, np.ndarray] = field(default_factory=dict)  # every block's channel means (the path check)
    objective: list[float] = field(default_factory=list)  # per step, on the crops
    device: str = "cpu"  # where it was drawn
    notice: str = ""  # a device failure the CPU stood in for

    @property
    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels)

    def file_name(self, numbered: bool = False) -> str:
        """``<block>_c<channel>.png`` (``numbered``: with the picture's index, for several per channel)."""
        return f"{self.block}_c{self.channel}{f'_{self.index}' if numbered else ''}.png"


Progress = Callable[[int, int, float], None]  # (step, steps, seconds so far)


def _generator(seed: int, channel: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + channel * 1_009 + index) % 2**63)


def _block_value(plan: Plan, block: str) -> int:
    for b in plan.blocks:
        if b.name == block:
            return b.output
    names = [b.name for b in plan.blocks]
    raise ValueError(f"no block {block!r} in {plan.model_name} (blocks: {names[0]} … {names[-1]})")


def block_output(model: nn.Module, x: Tensor, block: str) -> Tensor:
    """The block's output for ``x`` with its graph: run only as far as the block where the plan holds, else whole
    (re-planned); a model file's static batch is filled chunk by chunk."""
    x = input_like(model, x)
    size = fixed_batch(model) or len(x)
    outs = []
    for chunk in x.split(size):
        chunk_in, n = padded(model, chunk)
        plan = plan_for(model, chunk_in)
        got = run_until(model, chunk_in, plan, _block_value(plan, block))
        if got is None:
            kept: list[Tensor] = []
            watched_run(model, chunk_in, lambda p: {_block_value(p, block): [kept.append]}, replan=kept.clear,
                        whole=True)
            got = kept[0]
        outs.append(got[:n])
    return torch.cat(outs) if len(outs) > 1 else outs[0]


def _deep(model: nn.Module, block: str, size: int, dev: torch.device) -> bool:
    """Whether ``block`` is past the network's middle block (where a warm-up pays)."""
    x, _ = padded(model, torch.zeros(1, 3, size, size, device=dev))
    plan = plan_for(model, x)
    _block_value(plan, block)
    return [b.name for b in plan.blocks].index(block) >= len(plan.blocks) / 2


def _parameterisation(s: Settings, magnitude: Tensor | None) -> Fourier | Maco:
    if s.method == "fourier":
        return Fourier(s.size, s.decay)
    return Maco(s.size, shipped_magnitude(s.size) if magnitude is None else magnitude)


def _diversity(act: Tensor, per: int, crops: int) -> Tensor:
    """Mean pairwise cosine similarity of each channel's pictures' mean activation vectors (0 for one picture)."""
    if per < 2:
        return act.new_zeros(())
    v = F.normalize(act.mean((2, 3)).view(-1, per, crops, act.shape[1]).mean(2), dim=-1)
    sim = v @ v.transpose(1, 2)
    return (sim.sum((1, 2)) - per).sum() / (per * (per - 1))


def visualize(model: nn.Module, block: str, channels: Sequence[int], settings: Settings = Settings(),
              mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225),
              magnitude: Tensor | None = None, device: str | torch.device | None = None, batch: int = 8,
              progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> list[Visualization]:
    """The pictures maximising each of ``channels`` at ``block``'s output, ``settings.per_channel`` each (channel
    order, then picture), optimised ``batch`` pictures at a time (the result is the same for any ``batch``).
    ``mean``/``std``: the model's normalisation (pixels are in [0, 1]); ``magnitude``: MACO's spectrum (default:
    the shipped one); ``progress(step, steps, seconds)`` after each step of all the batches' steps; ``cancel()``
    before each (True: ``Cancelled``)."""
    s = settings.check()
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    dev = model_device(model) if device is None else resolve_device(device)
    jobs = [(c, k) for c in channels for k in range(s.per_channel)]
    per = max(s.per_channel, batch // s.per_channel * s.per_channel)  # a channel's pictures stay together
    groups = [jobs[i:i + per] for i in range(0, len(jobs), per)]
    try:
        return _drawn(model, block, s, magnitude, (mean, std), dev, groups, progress, cancel)
    except RuntimeError as exc:  # a CUDA/MPS failure (out of memory, device error): the CPU, with a notice
        if dev.type == "cpu":
            raise
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        out = _drawn(model, block, s, magnitude, (mean, std), torch.device("cpu"), groups, progress, cancel)
        for p in out:
            p.notice = f"{dev.type.upper()} failed ({first}); drawn on the CPU instead"
        return out


@contextlib.contextmanager
def _placed(model: nn.Module, dev: torch.device) -> Iterator[None]:
    """The model on ``dev`` (gradients on), back on its own device afterwards."""
    home = next((p.device for p in model.parameters()), dev)
    if home != dev:
        model.to(dev)
    try:
        yield
    finally:
        if home != dev:
            model.to(home)


def _drawn(model: nn.Module, block: str, s: Settings, magnitude: Tensor | None, norm: tuple, dev: torch.device,
           groups: list[list[tuple[int, int]]], progress: Progress | None,
           cancel: Callable[[], bool] | None) -> list[Visualization]:
    shown = s.input_size or s.size
    stats = (torch.tensor(norm[0], device=dev).view(1, 3, 1, 1), torch.tensor(norm[1], device=dev).view(1, 3, 1, 1))
    done, start, out = 0, time.perf_counter(), []

    def stepped(_step: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, s.steps * len(groups), time.perf_counter() - start)

    with _placed(model, dev):
        run = _Run(model, block, s, _parameterisation(s, magnitude), stats, shown, dev,
                   (s.steps // 8 if _deep(model, block, shown, dev) else 0) if s.warmup is None else s.warmup)
        for group in groups:
            out += run.optimise(group, stepped, cancel)
    for p in out:
        p.device = dev.type
    return out


@dataclass
class _Run:
    """One visualize call's fixed parts."""

    model: nn.Module
    block: str
    s: Settings
    param: Fourier | Maco
    norm: tuple[Tensor, Tensor]
    shown: int
    dev: torch.device
    warm: int

    def optimise(self, jobs: list[tuple[int, int]], stepped: Callable[[int], None],
                 cancel: Callable[[], bool] | None) -> list[Visualization]:
        s, rob, dev = self.s, self.s.robustness, self.dev
        gens = [_generator(s.seed, c, k) for c, k in jobs]
        params = torch.stack([self.param.init(g) for g in gens]).to(dev).requires_grad_(True)
        pick = torch.tensor([c for c, _ in jobs], device=dev).repeat_interleave(rob.crops)
        opt = torch.optim.Adam([params], lr=s.rate)
        history: list[list[float]] = [[] for _ in jobs]
        with eval_mode(self.model), torch.enable_grad():
            for step in range(s.steps):
                if cancel is not None and cancel():
                    raise Cancelled(f"stopped at step {step} of {s.steps}")
                views = rob.apply(self.param.pixels(params), gens, self.shown)
                with RedirectedRelu() if step < self.warm else contextlib.nullcontext():
                    act = block_output(self.model, (views - self.norm[0]) / self.norm[1], self.block)
                if int(pick.max()) >= act.shape[1]:
                    raise ValueError(f"{self.block} has {act.shape[1]} channels (0–{act.shape[1] - 1}); got channel "
                                     f"{int(pick.max())}")
                objective = act[torch.arange(len(pick), device=dev), pick].mean((1, 2)).view(len(jobs), -1).mean(1)
                loss = -objective.sum() + s.diversity * _diversity(act, s.per_channel, rob.crops)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for h, v in zip(history, objective.detach().cpu().tolist()):
                    h.append(v)
                stepped(step)
        return _measured(self.model, self.block, jobs, self.param.pixels(params.detach()), self.norm, self.shown,
                         history)


def _measured(model: nn.Module, block: str, jobs: list[tuple[int, int]], pixels: Tensor, norm: tuple[Tensor, Tensor],
              shown: int, history: list[list[float]]) -> list[Visualization]:
    """Each whole picture as it is saved (8-bit) at the size the model saw its crops, with every block's channel
    means (the path)."""
    pixels = (pixels.clamp(0, 1) * 255).round() / 255
    x = pixels if pixels.shape[-1] == shown else F.interpolate(pixels, size=(shown, shown), mode="bilinear",
                                                                 antialias=True, align_corners=False)
    x = input_like(model, (x - norm[0]) / norm[1])
    means: dict[str, list[Tensor]] = {}
    outs: list[Tensor] = []
    size = fixed_batch(model) or len(x)
    with eval_mode(model), torch.no_grad():
        for chunk in x.split(size):
            kept: dict[str, Tensor] = {}  # this chunk's (a re-plan clears only them)

            def watch(plan: Plan) -> dict[int, list]:
                return {b.output: [lambda t, n=b.name: kept.__setitem__(n, t)] for b in plan.blocks}

            watched_run(model, chunk, watch, replan=kept.clear)
            for name, t in kept.items():
                means.setdefault(name, []).append(t.float().mean((2, 3)).cpu())
            outs.append(kept[block])
    act = torch.cat(outs).float().cpu()
    path = {name: torch.cat(v).numpy() for name, v in means.items()}
    rgb = (pixels.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return [Visualization(block, c, k, rgb[i], float(act[i, c].mean()), float(act[i, c].max()),
                          {name: m[i] for name, m in path.items()}, history[i])
            for i, (c, k) in enumerate(jobs)]


__all__ = ["METHODS", "Cancelled", "Settings", "Visualization", "block_output", "visualize"]
