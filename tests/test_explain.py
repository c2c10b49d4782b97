"""explain(model) (#37): every addition the forward made and why it is or is not a residual block, checked against
what the test knows of each model it builds; the refusal that points to it; the CLI; Recording.table()."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import explorer
from explorer.tracing import NotAResNet
from explorer.tracing.layout import EXPLAIN

ROOT = Path(__file__).resolve().parent.parent


class Mixer(nn.Module):
    """A patch embedding plus a broadcast bias, then a token MLP with a skip: additions, none of them a block."""

    def __init__(self) -> None:
        super().__init__()
        self.proj, self.mlp = nn.Conv2d(3, 8, 4, 4), nn.Linear(8, 8)
        self.bias = nn.Parameter(torch.zeros(8, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x) + self.bias  # a parameter: one forward tensor
        gate = x.mean((2, 3), keepdim=True)
        x = x + gate  # a broadcast of two forward tensors
        t = x.flatten(2).transpose(1, 2)
        return (t + self.mlp(t)).mean(1)  # a skip around an MLP


class Pyramid(nn.Module):
    """A feature pyramid's top-down merge: a coarse map upsampled and added to a lateral one."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.lateral = nn.Conv2d(3, 8, 3, 2, 1), nn.Conv2d(8, 8, 3, 2, 1), nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.c1(x)
        return self.lateral(a) + F.interpolate(self.c2(a), scale_factor=2)


def test_every_addition_of_a_resnet_is_its_block() -> None:
    model = torchvision.models.resnet18()
    e = explorer.explain(model, 64)
    blocks = [n for n, m in model.named_modules() if isinstance(m, torchvision.models.resnet.BasicBlock)]
    assert e.recognised and e.outcome == "a residual network of 8 blocks in 4 stages"
    assert [a.block for a in e.additions] == blocks == [b.name for b in explorer.trace(model, input_size=64).blocks]
    assert [a.where for a in e.additions] == blocks
    for a in e.additions:
        projects = model.get_submodule(a.block).downsample is not None
        assert a.reason.startswith("a residual block: a branch of 2 convolutions + ")
        assert ("conv2d" in a.reason) == projects and ("the identity" in a.reason) == (not projects)
        assert a.shapes[0] == a.shapes[1] and len(a.shapes) == 2


def test_refusals_say_which_additions_were_seen_and_why() -> None:
    e = explorer.explain(Mixer(), 64)
    assert not e.recognised and e.outcome.startswith("not a residual network: its forward has residual additions "
                                                     "but no convolution") and EXPLAIN not in e.outcome
    reasons = [a.reason for a in e.additions]
    assert reasons[0] == "adds a constant, a parameter or a buffer to one forward tensor"
    assert reasons[1].startswith("its operands differ in shape (1×8×16×16 and 1×8×1×1): a broadcast")
    assert reasons[2].startswith("no convolution on either side")
    assert all(a.block is None for a in e.additions)
    with pytest.raises(NotAResNet, match="explorer.explain\\(model\\)"):
        explorer.trace(Mixer(), input_size=64)
    p = explorer.explain(Pyramid(), 64)
    assert [a.reason for a in p.additions] == ["an operand passes through interpolate: it merges two resolutions (a "
                                               "feature pyramid), as no block does"]
    assert "none is a block's input" in p.outcome


def test_additions_inside_a_branch_belong_to_its_block() -> None:
    timm = pytest.importorskip("timm")
    model = timm.create_model("res2net50_26w_4s", pretrained=False)
    e = explorer.explain(model, 64)
    t = explorer.trace(model, input_size=64)
    closing = [a for a in e.additions if a.block]
    assert [a.block for a in closing] == [b.name for b in t.blocks]
    inner = [a for a in e.additions if not a.block]
    assert inner and all(a.reason.startswith("inside the residual branch of ") for a in inner)
    assert {a.reason.split(" of ")[1].split(" ")[0] for a in inner} <= {b.name for b in t.blocks}


def test_the_cli_and_the_recording_table() -> None:
    r = subprocess.run([sys.executable, "-m", "explorer", "explain", "resnet56", "--ops"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "resnet56 on a 1×3×32×32 input: a residual network of 27 blocks in 3 stages"
    assert sum(" a residual block: " in line for line in lines) == 27
    assert "layer2.0  a residual block: a branch of 2 convolutions + a shortcut of __getitem__ → pad" in r.stdout
    assert any(line.split()[:2] == ["0", "conv2d"] for line in lines)  # the ops table, op 0 the stem's conv
    r = subprocess.run([sys.executable, "-m", "explorer", "explain", "resnet18", "--json"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    d = json.loads(r.stdout)
    assert d["recognised"] and len(d["additions"]) == 8 and d["input_shape"] == [1, 3, 224, 224]
    rec = explorer.explain(Pyramid(), 32).recording
    table = rec.table().splitlines()
    assert len(table) == len(rec.ops) + 2 and table[0].split() == ["op", "function", "reads", "makes", "in", "module"]
    assert table[2].split()[:4] == ["0", "conv2d", "%0", "%1"] and table[2].split()[-1] == "c1"
