"""How a forward is recognised as a residual network (#21, #37): small hand-written forwards whose blocks the test
knows (post- and pre-activation, an in-place ``+=``, a Res2Net-style inner add, a feature pyramid's resampled add, a
transformer's add), a backbone inside a user's model, and the one-line refusals."""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import explorer
from explorer.tracing import ForwardFailed, NotAResNet, trace

SIZE = 64


class Classifier(nn.Module):
    """A user's model: a torchvision backbone inside, a head of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = torchvision.models.resnet18()
        self.backbone.fc = nn.Identity()
        self.head = nn.Linear(512, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def test_backbone_found_inside_or_named() -> None:
    t = trace(Classifier(), input_size=64)
    assert t.model_name == "torchvision:resnet18 at backbone" and len(t.blocks) == 8
    assert t.head.layers[-1].kind == "avgpool"  # fc is an Identity now: left out
    assert trace(Classifier(), input_size=64, backbone="backbone").blocks == t.blocks
    with pytest.raises(NotAResNet, match="Classifier has no submodule 'neck'"):
        trace(Classifier(), backbone="neck")
    with pytest.raises(ForwardFailed, match="'head' \\(Linear\\): its forward failed on a 1×3×224×224 input"):
        trace(Classifier(), backbone="head")


def test_a_module_that_is_not_a_resnet_gets_one_line() -> None:
    with pytest.raises(NotAResNet) as err:
        trace(torchvision.models.vgg11())
    message = str(err.value)
    assert message == "VGG is not a convolutional residual network: its forward has no residual additions"
def test_pre_activation_blocks() -> None:
    t = trace(timm.create_model("resnetv2_50", pretrained=False).eval(), input_size=SIZE)
    b = t.block("stages.1.blocks.0")
    assert b.block_type == "PreActBottleneck" and not b.after  # nothing follows the sum
    assert [layer.kind for layer in b.branch][:2] == ["bn", "relu"]  # the norm and activation before the split
    assert t.stem.label == "7×7 conv s2 + 3×3 maxpool s2"


def test_refusals_say_what_the_forward_showed() -> None:
    with pytest.raises(NotAResNet, match="VGG is not a convolutional residual network: its forward has no "
                                          "residual additions"):
        trace(torchvision.models.vgg11())
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False).eval()
    with pytest.raises(NotAResNet, match="residual additions but no convolution in them"):
        trace(vit)
    with pytest.raises(ForwardFailed, match="its forward failed on a 1×3×32×32 input .*try another input size"):
        trace(timm.create_model("resnet18", pretrained=False), input_size=32, backbone="fc")


def test_a_whole_detector_is_refused_naming_its_backbone() -> None:
    """A detector as people hold it (images in, boxes out): one line naming the module to trace, which traces
    exactly (#33: before, a KeyError from inside the tracer)."""
    model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    with pytest.raises(NotAResNet, match=r"^FasterRCNN holds residual blocks, but its input or output is not one "
                                         r"tensor .*explorer.trace\(model, backbone='backbone.body'\)$"):
        trace(model)
    inner = trace(model, backbone="backbone.body")
    assert [b.name for b in inner.blocks] == [b.name for b in trace(model.backbone.body).blocks]
    assert len(inner.blocks) == 16 and inner.total_params == sum(p.numel() for p in model.backbone.body.parameters())


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class Post(nn.Module):
    """Post-activation (the paper's): relu(F(x) + shortcut(x)), the sum written as ``how`` says."""

    def __init__(self, cin: int, cout: int, stride: int = 1, how: str = "+") -> None:
        super().__init__()
        self.a, self.b, self.how = _conv_bn(cin, cout, 3, stride), _conv_bn(cout, cout), how
        self.proj = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.b(F.relu(self.a(x)))
        short = x if self.proj is None else self.proj(x)
        if self.how == "+=":
            out += short
        elif self.how == "add_":
            out.add_(short)
        else:
            out = torch.add(out, short) if self.how == "torch.add" else out + short
        return F.relu(out)


class Pre(nn.Module):
    """Pre-activation (He et al. 2016b): x + conv(relu(bn(conv(relu(bn(x)))))), nothing after the sum."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c), nn.Conv2d(c, c, 3, 1, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(c), nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))


class Split(nn.Module):
    """Res2Net's idea in a few lines: the branch splits its channels and adds one scale's output into the next."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.reduce, self.s1, self.s2, self.expand = (nn.Conv2d(c, c, 1), nn.Conv2d(c // 2, c // 2, 3, 1, 1),
                                                      nn.Conv2d(c // 2, c // 2, 3, 1, 1), nn.Conv2d(c, c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.reduce(x).chunk(2, 1)
        a = self.s1(a)
        b = self.s2(b + a)  # the inner add
        return F.relu(x + self.expand(torch.cat([a, b], 1)))


class Net(nn.Module):
    """A stem and a list of blocks; with ``fpn``, a feature pyramid's merge of the last two resolutions on top."""

    def __init__(self, blocks: list[nn.Module], fpn: bool = False) -> None:
        super().__init__()
        self.stem, self.blocks = nn.Conv2d(3, 8, 3, 1, 1), nn.ModuleList(blocks)
        self.lateral = nn.Conv2d(8, 16, 1) if fpn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        feats = []
        for b in self.blocks:
            x = b(x)
            feats.append(x)
        if self.lateral is None:
            return x
        return self.lateral(feats[0]) + F.interpolate(feats[-1], size=feats[0].shape[-2:])


@pytest.mark.parametrize("how", ["+", "+=", "add_", "torch.add"])
def test_post_activation_blocks_however_the_sum_is_written(how: str) -> None:
    net = Net([Post(8, 8, how=how), Post(8, 16, 2, how=how), Post(16, 16, how=how)])
    t = trace(net, input_size=32)
    assert [b.name for b in t.blocks] == ["blocks.0", "blocks.1", "blocks.2"]
    assert [b.name for b in t.blocks if b.downsample] == ["blocks.1"]
    assert t.block("blocks.1").downsample.name == "blocks.1.proj" and t.block("blocks.1").stride == 2
    for b in t.blocks:
        assert [layer.kind for layer in b.branch] == ["conv", "bn", "relu", "conv", "bn"]
        assert [layer.kind for layer in b.after] == ["relu"]
    assert [b.out_shape for b in t.blocks] == [(8, 32, 32), (16, 16, 16), (16, 16, 16)]


def test_pre_activation_blocks_have_nothing_after_the_sum() -> None:
    t = trace(Net([Pre(8), Pre(8)]), input_size=32)
    assert [b.name for b in t.blocks] == ["blocks.0", "blocks.1"]
    for b in t.blocks:
        assert not b.after and not b.downsample
        assert [layer.kind for layer in b.branch] == ["bn", "relu", "conv", "bn", "relu", "conv"]


def test_an_add_inside_a_branch_belongs_to_its_block() -> None:
    e = explorer.explain(Net([Split(8), Split(8)]), 32)
    assert e.recognised and [a.block for a in e.additions if a.block] == ["blocks.0", "blocks.1"]
    inner = [a for a in e.additions if not a.block]
    assert [a.reason.split(" (")[0] for a in inner] == ["inside the residual branch of blocks.0",
                                                        "inside the residual branch of blocks.1"]


def test_a_pyramid_merge_on_top_is_left_out_and_said_why() -> None:
    net = Net([Post(8, 8), Post(8, 16, 2)], fpn=True)
    e = explorer.explain(net, 32)
    assert e.recognised and [a.block for a in e.additions] == ["blocks.0", "blocks.1", None]
    assert e.additions[-1].reason.startswith("an operand passes through interpolate")
    assert [b.name for b in trace(net, input_size=32).blocks] == ["blocks.0", "blocks.1"]


def test_a_transformer_add_is_not_a_block() -> None:
    class Tokens(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.mlp = nn.Conv2d(3, 16, 8, 8), nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            t = self.embed(x).flatten(2).transpose(1, 2)
            return (t + self.mlp(t)).mean(1)

    e = explorer.explain(Tokens(), 32)
    assert not e.recognised and [a.reason.split(" (")[0] for a in e.additions] == ["no convolution on either side"]
    with pytest.raises(NotAResNet, match="residual additions but no convolution in them"):
        trace(Tokens(), input_size=32)


def test_a_vgg_with_a_skip_is_refused_naming_its_addition() -> None:
    """A VGG whose head adds a side classifier on an early feature map: one addition, of class scores."""

    class VGGSkip(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            v = torchvision.models.vgg11()
            self.a, self.b = v.features[:3], v.features[3:6]
            self.head, self.side = nn.Linear(128, 10), nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x1 = self.a(x)
            return self.head(self.b(x1).mean((2, 3))) + self.side(x1.mean((2, 3)))

    e = explorer.explain(VGGSkip(), 64)
    assert not e.recognised and [a.reason for a in e.additions] == ["its operands are not feature maps (1×10)"]
    with pytest.raises(NotAResNet, match="VGGSkip is not a convolutional residual network"):
        trace(VGGSkip(), input_size=64)
