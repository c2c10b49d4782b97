"""Where a model keeps its residual network, found from one recorded forward pass (``dataflow``) by what it
computes (``residual``): the blocks, the stages they form, the stem before them and the head after them, and
the backbone that holds them all (the model itself, or a module inside it, such as ``model.backbone``).

Stages are the runs of blocks that share a container (``layer1``, ``stages.0``), or, where one container holds
every block (or none does), the runs between changes of resolution or width. Any module or model is accepted:
ours, torchvision's, timm's (resnet, resnetv2, res2net, resnest, sknet), Hugging Face's ResNet, an ONNX graph
converted to modules, a user's own code with its own names; the refusals say what the forward showed instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .dataflow import Call, Recording
from .residual import Found, Residual, find_residuals
from .static import check_size, fixed_batch

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.LeakyReLU, nn.Hardswish, nn.Mish, nn.ELU, nn.PReLU)
NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)
EXPECTED = ("a convolutional residual network: blocks whose output adds their input, carried through a shortcut, "
            "to a branch of convolutions")


class NotAResNet(TypeError):
    """The module has no residual blocks; the message says what its forward showed instead."""


def refusal(where: str, reason: str) -> NotAResNet:
    """``VGG is not a convolutional residual network: its forward has no residual additions``."""
    return NotAResNet(f"{where} is not a convolutional residual network: {reason}")


class ForwardFailed(RuntimeError):
    """The model's forward raised at the input tried; the message says the input and how to change it."""


@dataclass(frozen=True)
class BlockLayout:
    """One residual block: its name, its stage, and where its tensors are in the recording."""

    name: str  # the block module's name under the backbone ("layer2.0"), or its addition's
    stage: str
    stage_index: int  # 1-based
    index: int  # position in its stage
    module: nn.Module | None  # None for a block without a module of its own (an ONNX graph's)
    residual: Residual
    input: int  # value ids in the recording: the block's input ...
    first_op: int  # ... the ops [first_op, end_op) that are the block
    end_op: int

    @property
    def output(self) -> int:
        return self.residual.output

    @property
    def projection(self) -> bool:
        return not self.residual.identity


@dataclass(frozen=True)
class Layout:
    """The residual network of ``model``, as one forward pass showed it."""

    model: nn.Module  # what runs
    backbone: nn.Module  # the innermost module holding every block and taking the model's input
    path: str  # where the backbone sits in ``model`` ("": the model itself)
    recording: Recording
    base: Call  # the backbone's call
    blocks: tuple[BlockLayout, ...]
    stages: tuple[str, ...]
    stem_ops: tuple[int, ...]
    head_ops: tuple[int, ...]
    between: dict[str, tuple[int, ...]]  # ops between two blocks, given to the block after them

    def name(self, path: str) -> str:
        """A module's name relative to the backbone."""
        if not self.path:
            return path
        return path[len(self.path) + 1:] if path.startswith(self.path + ".") else path

    def modules(self, ops: tuple[int, ...]) -> tuple[nn.Module, ...]:
        """The leaf modules (no children) that ran ``ops``, once each, in order."""
        rec, out, seen = self.recording, [], set()
        for i in ops:
            for call in rec.scopes(i):
                if not call.module._modules and id(call.module) not in seen:
                    seen.add(id(call.module))
                    out.append(call.module)
                break
        return tuple(out)

    def parts(self) -> list[tuple[str, tuple[nn.Module, ...]]]:
        """The stem, every block and the head, each with the modules whose forward belongs to it (memory)."""
        parts = [("stem", self.modules(self.stem_ops))]
        for b in self.blocks:
            parts.append((b.name, (b.module,) if b.module is not None
                          else self.modules(tuple(range(b.first_op, b.end_op)))))
        return [*parts, ("head", self.modules(self.head_ops))]


def _tensor_input(x: Any) -> bool:
    return isinstance(x, Tensor) and x.dim() == 4


def _backbone(rec: Recording, blocks: list[tuple[Residual, int, int]]) -> Call:
    """The innermost call that holds every block and reads the forward's first input."""
    first, last = min(b[1] for b in blocks), max(b[2] for b in blocks)
    x = rec.inputs[0] if rec.inputs else None
    best = rec.calls[0]
    for call in rec.calls:
        if call.first_op <= first and last <= call.end_op and call.inputs[:1] == (x,) and call.path.count(".") >= \
                best.path.count(".") and (call.path.startswith(best.path) or not best.path):
            best = call
    return best


def _window(rec: Recording, r: Residual) -> tuple[int, int]:
    """The ops that are the block: its module call's, or from its first branch/shortcut op to its output."""
    if r.call is not None:
        c = rec.calls[r.call]
        return c.first_op, c.end_op
    ops = [*r.branch_ops, *r.shortcut_ops, r.add, *r.after_ops]
    return min(ops), max(ops) + 1


def _names(rec: Recording, found: Found, base: Call, relative: Any) -> list[str]:
    names: list[str] = []
    for r in found.blocks:
        if r.call is not None:
            names.append(relative(rec.calls[r.call].path))
            continue
        scope = next(iter(rec.scopes(r.add)), None)
        own = scope is not None and scope.index != base.index and not scope.module._modules
        name = relative(scope.path) if own else f"add{len(names)}"
        for tail in ("/Add", "_Add", ".Add", "/add", "_add"):  # an ONNX node "/layer1/layer1.0/Add": its block
            name = name.removesuffix(tail) if name != tail else name
        names.append(name if name not in names else f"{name}#{len(names)}")
    return names


def _stages(names: list[str], blocks: list[Residual], rec: Recording, modular: bool) -> list[str]:
    """Each block's stage: its container where blocks have several, else a run between shape changes."""
    parents = [n.rsplit(".", 1)[0] if modular and "." in n else "" for n in names]
    if len(set(parents)) > 1 and all(parents):
        return parents
    stages, k = [], 0
    prefix = parents[0] if parents and parents[0] else "stage"
    for i, r in enumerate(blocks):
        out = rec.shapes[r.output]
        if i and (rec.shapes[blocks[i - 1].output][1:2] != out[1:2] or rec.shapes[blocks[i - 1].output][-1] != out[-1]):
            k += 1
        stages.append(f"{prefix}[{k}]" if prefix != "stage" else f"stage{k + 1}")
    return stages


EXPLAIN = "explorer.explain(model), or python -m explorer explain MODEL, lists each addition and why"


def recognise(rec: Recording, found: Found | None = None) -> Layout | str:
    """The layout of a recording (its residuals ``found`` already, or found here), or a line saying why it has
    none (pointing to ``explain`` where the forward did add tensors)."""
    found = found or find_residuals(rec)
    if not found.blocks:
        if found.conv_free_adds:
            return f"its forward has residual additions but no convolution in them (a transformer?); {EXPLAIN}"
        return "its forward has no residual additions" if not found.adds else \
            f"its forward adds tensors, but none is a block's input carried to its output; {EXPLAIN}"
    windows = [(r, *_window(rec, r)) for r in found.blocks]
    base = _backbone(rec, windows)
    path = base.path

    def relative(p: str) -> str:
        return p[len(path) + 1:] if path and p.startswith(path + ".") else p

    names = _names(rec, found, base, relative)
    modular = all(r.call is not None for r in found.blocks)
    stages = _stages(names, list(found.blocks), rec, modular)
    order = list(dict.fromkeys(stages))
    blocks, between, counts = [], {}, {}
    previous_end = None
    for (r, first, end), name, stage in zip(windows, names, stages):
        counts[stage] = counts.get(stage, -1) + 1
        call = rec.calls[r.call] if r.call is not None else None
        if previous_end is not None and first > previous_end:
            between[name] = tuple(range(previous_end, first))
        previous_end = end
        blocks.append(BlockLayout(name, stage, order.index(stage) + 1, counts[stage],
                                  call.module if call is not None else None, r,
                                  call.inputs[0] if call is not None else r.split, first, end))
    in_base = [i for i in range(base.first_op, base.end_op)]
    stem = tuple(i for i in in_base if i < blocks[0].first_op)
    head = tuple(i for i in in_base if i >= blocks[-1].end_op)
    return Layout(rec_model(rec), base.module, path, rec, base, tuple(blocks), tuple(order), stem, head, between)


def rec_model(rec: Recording) -> nn.Module:
    return rec.calls[0].module


def meta_state(model: nn.Module) -> dict[str, Tensor]:
    """Meta stand-ins for every parameter (as parameters) and buffer, so a real model runs on the meta device
    without being touched or copied."""
    state: dict[str, Tensor] = {}
    for name, p in model.named_parameters():
        state[name] = p if p.is_meta else nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
    for name, b in model.named_buffers():
        state[name] = b if b.is_meta else torch.empty_like(b, device="meta")
    return state


def example_input(model: nn.Module, input_size: int) -> Tensor:
    """Zeros of 1×3×size×size in the model's dtype and memory format (half-precision and channels-last models);
    a model file that fixes its batch gets that batch, and one that fixes its size refuses another."""
    check_size(model, input_size)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    x = torch.zeros(fixed_batch(model) or 1, 3, input_size, input_size, dtype=dtype)
    first = next((m.weight for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and first.dim() == 4 and first.is_contiguous(memory_format=torch.channels_last) \
            and not first.is_contiguous():
        x = x.contiguous(memory_format=torch.channels_last)
    return x


__all__ = ["ACTIVATIONS", "BlockLayout", "EXPECTED", "ForwardFailed", "Layout", "NORMS", "NotAResNet", "example_input",
           "meta_state", "recognise", "refusal"]
