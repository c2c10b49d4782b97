"""Real ResNets from every source, traced (#12, #21): timm's resnet, resnetv2 and BiT, res2net, resnest, sknet and
its library variants; torchvision's classifiers and the backbones of its segmentation and detection models; Hugging
Face transformers' ResNet; a segmentation_models_pytorch encoder; user code with its own names, containers and
functional calls; headless, half-precision and channels-last models.

For each, checked against what the test measures itself: the block names and count (from the model's own modules),
which blocks project their shortcut, each block's output shape (the test's hooks), parameters (sum of numel), MACs
(torchinfo's mult-adds on the same module), ‖F(x)‖ (the norm of the real branch's output, from a hook on the module
the test knows ends the branch), receptive fields (gradients), memory (saved tensors) and the capture's numerics.
How a forward is recognised, on small hand-written ones, is in test_recognition.py; the tracer's mechanics in
test_trace.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from memory_probe import inference_peak, saved_for_backward
from rf_probe import gradient_rf
from torch import nn
from torchinfo import summary
from training import hooked_output

from explorer.capture import capture
from explorer.graph.levels import build_graph
from explorer.structure.analysis import analysis_dict, receptive_fields
from explorer.tracing import trace

SIZE = 64
LIB_SIZE = 96  # the library-variant sweep: deep stems and blur pools want more pixels


class CifarBlock(nn.Module):
    """The way much public training code writes a block: an empty Sequential as the identity shortcut, F.relu."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    """3×3 stem, three stages in attributes of its own naming, a ``linear`` head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(CifarBlock(16, 16), CifarBlock(16, 16))
        self.layer2 = nn.Sequential(CifarBlock(16, 32, 2), CifarBlock(32, 32))
        self.layer3 = nn.Sequential(CifarBlock(32, 64, 2), CifarBlock(64, 64))
        self.linear = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(F.avg_pool2d(out, out.shape[-1]).flatten(1))


class FlatCifar(nn.Module):
    """All blocks in one list: stages come from where the resolution changes."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 1, 1)
        self.blocks = nn.ModuleList([CifarBlock(16, 16), CifarBlock(16, 32, 2), CifarBlock(32, 32),
                                     CifarBlock(32, 64, 2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for b in self.blocks:  # Python control flow
            x = b(x)
        return x


@dataclass
class Case:
    make: Callable[[], nn.Module]
    blocks: Callable[[nn.Module], dict[str, nn.Module]]  # the test's own list: name -> block module
    projection: Callable[[nn.Module], bool]
    branch_end: Callable[[nn.Module], nn.Module]  # the module whose output is F(x)
    backbone: Callable[[nn.Module], nn.Module] = field(default=lambda m: m)
    dtype: torch.dtype = torch.float32


def stages_of(prefix: str, names: tuple[str, ...]) -> Callable[[nn.Module], dict[str, nn.Module]]:
    def blocks(m: nn.Module) -> dict[str, nn.Module]:
        root = m.get_submodule(prefix) if prefix else m
        return {f"{s}.{i}": b for s in names for i, b in enumerate(root.get_submodule(s))}
    return blocks


LAYERS = stages_of("", ("layer1", "layer2", "layer3", "layer4"))
HAS_DOWNSAMPLE = lambda b: getattr(b, "downsample", None) is not None  # noqa: E731
BN3 = lambda b: b.bn3  # noqa: E731
BN2 = lambda b: b.bn2  # noqa: E731


def _timm(name: str, **kw) -> Callable[[], nn.Module]:
    return lambda: timm.create_model(name, pretrained=False, **kw).eval()


def _hf() -> nn.Module:
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    return ResNetForImageClassification(ResNetConfig(depths=[2, 1, 2, 1], num_labels=7)).eval()


HF_BLOCKS = lambda m: {f"encoder.stages.{i}.layers.{j}": b for i, s in enumerate(m.resnet.encoder.stages)  # noqa: E731
                       for j, b in enumerate(s.layers)}
RESNETV2 = lambda m: {f"stages.{i}.blocks.{j}": b for i, s in enumerate(m.stages) for j, b in enumerate(s.blocks)}  # noqa: E731

CASES = {
    "timm:resnet26d": Case(_timm("resnet26d"), LAYERS, HAS_DOWNSAMPLE, BN3),
    "timm:seresnet18": Case(_timm("seresnet18"), LAYERS, HAS_DOWNSAMPLE, lambda b: b.se),
    "timm:resnetv2_50": Case(_timm("resnetv2_50"), RESNETV2, HAS_DOWNSAMPLE, lambda b: b.conv3),
    "timm:resnetv2_50x1_bit": Case(_timm("resnetv2_50x1_bit"), RESNETV2, HAS_DOWNSAMPLE, lambda b: b.conv3),
    "timm:res2net50_26w_4s": Case(_timm("res2net50_26w_4s"), LAYERS, HAS_DOWNSAMPLE, BN3),
    "timm:resnest14d": Case(_timm("resnest14d"), LAYERS, HAS_DOWNSAMPLE, BN3),
    "timm:skresnet18": Case(_timm("skresnet18"), LAYERS, HAS_DOWNSAMPLE, lambda b: b.conv2),
    "timm:resnet18 features_only": Case(_timm("resnet18", features_only=True), LAYERS, HAS_DOWNSAMPLE, BN2),
    "torchvision:resnext50_32x4d": Case(lambda: torchvision.models.resnext50_32x4d(num_classes=10).eval(), LAYERS,
                                        HAS_DOWNSAMPLE, BN3),
    "torchvision:deeplabv3_resnet50": Case(
        lambda: torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None).eval(),
        lambda m: LAYERS(m.backbone), HAS_DOWNSAMPLE, BN3, backbone=lambda m: m.backbone),
    "torchvision:fasterrcnn backbone": Case(
        lambda: torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).backbone.eval(),
        lambda m: LAYERS(m.body), HAS_DOWNSAMPLE, BN3, backbone=lambda m: m.body),
    "transformers:ResNetForImageClassification": Case(
        _hf, HF_BLOCKS, lambda b: not isinstance(b.shortcut, nn.Identity), lambda b: b.layer,
        backbone=lambda m: m.resnet),
    "smp:resnet34 encoder": Case(
        lambda: __import__("segmentation_models_pytorch").encoders.get_encoder("resnet34", weights=None).eval(), LAYERS,
        HAS_DOWNSAMPLE, BN2),
    "user: CIFAR-style": Case(lambda: CifarResNet().eval(), stages_of("", ("layer1", "layer2", "layer3")),
                              lambda b: len(b.shortcut) > 0, BN2),
    "user: one list of blocks": Case(lambda: FlatCifar().eval(), lambda m: {f"blocks.{i}": b for i, b in enumerate(m.blocks)},
                                     lambda b: len(b.shortcut) > 0, BN2),
    "headless Sequential": Case(
        lambda: nn.Sequential(*list(torchvision.models.resnet50().children())[:-2]).eval(),
        stages_of("", ("4", "5", "6", "7")), HAS_DOWNSAMPLE, BN3),
    "half precision": Case(lambda: torchvision.models.resnet18().half().eval(), LAYERS, HAS_DOWNSAMPLE, BN2,
                           dtype=torch.float16),
    "channels-last": Case(lambda: torchvision.models.resnet18().to(memory_format=torch.channels_last).eval(), LAYERS,
                          HAS_DOWNSAMPLE, BN2),
}


def _outputs(model: nn.Module, modules: dict[str, nn.Module], x: torch.Tensor, of) -> dict:
    """``of(output)`` of each named module in one forward of ``x`` (the test's own hooks)."""
    seen: dict = {}
    hooked_output(model, x, [(m, lambda _m, _i, o, n=n: seen.__setitem__(n, of(o))) for n, m in modules.items()])
    return seen


def _shapes(model: nn.Module, modules: dict[str, nn.Module], x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    return _outputs(model, modules, x, lambda o: tuple(o.shape[1:]))


def _branch_norms(model: nn.Module, ends: dict[str, nn.Module], x: torch.Tensor) -> dict[str, float]:
    return _outputs(model, ends, x, lambda o: float(o.float().norm()))


@pytest.mark.parametrize("name", list(CASES))
def test_blocks_shortcuts_shapes_params_macs_and_branch_norms(name: str) -> None:
    case = CASES[name]
    torch.manual_seed(0)
    model = case.make()
    t = trace(model, input_size=SIZE)
    expected = case.blocks(model)
    assert [b.name for b in t.blocks] == list(expected)
    assert [b.name for b in t.blocks if b.downsample] == [n for n, b in expected.items() if case.projection(b)]
    x = torch.randn(1, 3, SIZE, SIZE).to(case.dtype)
    assert {b.name: b.out_shape for b in t.blocks} == _shapes(model, expected, x)
    net = case.backbone(model)
    assert t.total_params == sum(p.numel() for p in net.parameters())
    info = summary(net, input_data=x, verbose=0, mode="eval")
    assert t.total_macs == pytest.approx(info.total_mult_adds, rel=0.01)
    cap = capture(model, x)
    measured = _branch_norms(model, {n: case.branch_end(b) for n, b in expected.items()}, x)
    got = {s.name: s.residual_norm for s in cap.blocks}
    assert got == pytest.approx(measured, rel=1e-3 if case.dtype == torch.float16 else 1e-5)
    assert list(build_graph(t, "layers").clusters) == list(expected)  # every view draws the same blocks
    assert {node.id for node in build_graph(t, "blocks").nodes} >= set(expected)


def test_the_cifar_model_is_traced_right() -> None:
    """The case the name-based recognition got wrong without a word: 3 projections (it found 0), each a 1×1 conv
    with stride 2 (it listed an extra 1×1 layer with stride 1), F(x) the branch's (it took the shortcut's)."""
    t = trace(CifarResNet(), input_size=32)
    projections = [b for b in t.blocks if b.downsample]
    assert len(t.blocks) == 6 and [b.name for b in projections] == ["layer2.0", "layer3.0"]
    assert all(b.downsample.kind == "1×1 conv s2 + BN" and b.downsample.name == f"{b.name}.shortcut"
               for b in projections)
    assert all(b.stride == 2 and [c.name for c in b.convs] == ["conv1", "conv2"] for b in projections)
    assert [s.name for s in t.stages] == ["layer1", "layer2", "layer3"] and t.head.layers[-1].kind == "fc"
    assert [layer.kind for layer in t.block("layer1.0").branch] == ["conv", "bn", "relu", "conv", "bn"]
    assert [layer.kind for layer in t.block("layer1.0").after] == ["relu"]


def test_stages_from_shape_changes_when_one_list_holds_every_block() -> None:
    t = trace(FlatCifar(), input_size=32)
    assert [(s.name, s.blocks) for s in t.stages] == [("blocks[0]", 1), ("blocks[1]", 2), ("blocks[2]", 1)]


def test_receptive_fields_follow_every_path() -> None:
    """Res2Net's scales run one after another, a selective kernel's two paths side by side: the walk over the
    recorded dataflow takes the largest path, which a gradient sees too."""
    from rf_probe import gradient_rf

    for name, point in (("res2net50_26w_4s", "layer1.0"), ("skresnet18", "layer1.0")):
        model = timm.create_model(name, pretrained=False).eval()
        rf = {r.name: r for r in receptive_fields(trace(model, input_size=96))}[point]
        height = (rf.size + 96) // 32 * 32 + 32
        if rf.global_context:  # SK attention pools globally: the gradient reaches everything
            assert gradient_rf(model, point, height=height, width=64) >= height - 2
        else:
            assert gradient_rf(model, point, height=height, width=64) == rf.size


TIMM = ["resnet18", "resnet26", "resnet50d", "resnet26t", "resnet10t", "resnet18d", "seresnet18", "ecaresnet26t",
        "resnetrs50", "resnetblur18", "resnetaa34d", "ecaresnext26t_32x4d", "wide_resnet50_2", "resnext50_32x4d",
        "seresnext26d_32x4d"]
TORCHVISION = ["resnet18", "resnet34", "resnet50", "resnext50_32x4d", "wide_resnet50_2"]


def _models() -> list:
    return ([pytest.param(lambda n=n: _timm(n)(), id=f"timm:{n}") for n in TIMM]
            + [pytest.param(lambda n=n: getattr(torchvision.models, n)(num_classes=10).eval(), id=f"torchvision:{n}")
               for n in TORCHVISION])


@pytest.mark.parametrize("make", _models())
def test_trace_matches_hooks_params_and_torchinfo(make) -> None:
    model = make()
    t = trace(model, input_size=LIB_SIZE)
    stages = [n for n, m in model.named_children() if n.startswith("layer")]
    expected = [f"{s}.{i}" for s in stages for i in range(len(getattr(model, s)))]
    assert [b.name for b in t.blocks] == expected
    shapes = _shapes(model, {n: model.get_submodule(n) for n in expected}, torch.zeros(1, 3, LIB_SIZE, LIB_SIZE))
    assert {b.name: b.out_shape for b in t.blocks} == shapes
    assert t.total_params == sum(p.numel() for p in model.parameters())
    info = summary(model, input_size=(1, 3, LIB_SIZE, LIB_SIZE), verbose=0)
    assert t.total_macs == pytest.approx(info.total_mult_adds, rel=0.01)
    assert t.output_shape == tuple(model(torch.zeros(1, 3, LIB_SIZE, LIB_SIZE)).shape[1:])
    assert analysis_dict(t)["stages"][-1]["output_stride"] == 32
    layers = build_graph(t, "layers")
    for b in t.blocks:  # whatever a block holds beyond convs is in the records and the layers graph
        for extra in b.extras:
            assert any(n.id == extra.name for n in layers.nodes), extra


def test_what_blocks_hold_is_shown_for_what_it_is() -> None:
    t = trace(_timm("resnet50d")(), input_size=LIB_SIZE)
    assert t.model_name == "timm:resnet50d"
    assert t.block("layer2.0").downsample.kind == "2×2 avgpool s2 + 1×1 conv s1 + BN"
    assert t.stem.label.startswith("3×3 conv s2 + BN + ReLU + 3×3 conv + BN + ReLU + 3×3 conv + BN + ReLU")
    assert [e.kind for e in trace(_timm("seresnet18")(), input_size=LIB_SIZE).block("layer1.0").extras] == ["SEModule"]
    blur = trace(_timm("resnetblur18")(), input_size=LIB_SIZE).block("layer2.0")
    assert [e.label for e in blur.extras] == ["BlurPool2d s2"] and blur.stride == 2


@pytest.mark.parametrize("name, points", [
    ("resnet18d", ["layer1", "layer2.0", "layer3"]),  # deep stem, avg-pool shortcut
    ("resnet26t", ["layer1", "layer2"]),  # tiered deep stem
    ("resnetblur18", ["layer1", "layer2.0", "layer2"]),  # blur pool in the stem and the branch
    ("resnet10t", ["layer1", "layer2"]),
    ("resnetaa34d", ["layer1", "layer2.0"]),  # avg-pool anti-aliasing in the branch
    ("resnet26", ["layer1", "layer2.1"]),
])
def test_receptive_fields_equal_gradients_on_timm(name: str, points: list[str]) -> None:
    model = _timm(name)()
    analytic = {r.name: r for r in receptive_fields(trace(model, input_size=LIB_SIZE))}
    for point in points:
        expected = analytic[point].size
        height = (expected + 96) // 32 * 32 + 32  # a multiple of 32: avg-pool shortcuts need even sizes
        measured = gradient_rf(model, point, height=height, width=64)
        assert not analytic[point].global_context and measured == expected, (name, point, measured, expected)


def test_attention_gives_global_context_and_gradients_agree() -> None:
    model = _timm("seresnet18")()
    rf = {r.name: r for r in receptive_fields(trace(model, input_size=LIB_SIZE))}
    assert not rf["stem"].global_context and rf["layer1.0"].global_context
    height = rf["layer1.0"].size + 96
    measured = gradient_rf(model, "layer1.0", height=height)
    # the squeeze (a global mean) lets (nearly) every input row reach the unit, far beyond the convs' field
    assert measured >= height - 2 and measured > rf["layer1.0"].size + 90


@pytest.mark.parametrize("make", [
    pytest.param(lambda: torchvision.models.resnet50().eval(), id="torchvision:resnet50"),
    pytest.param(lambda: _timm("seresnet18")(), id="timm:seresnet18"),
    pytest.param(lambda: _timm("resnet50d")(), id="timm:resnet50d"),
])
def test_capture_numerics_any_model(make) -> None:
    """F(x) + shortcut = the block's pre-activation sum, whatever the block holds."""
    torch.manual_seed(0)
    model = make()
    cap = capture(model, torch.randn(1, 3, LIB_SIZE, LIB_SIZE), keep_full=True)
    assert len(cap.blocks) == sum(len(getattr(model, f"layer{i}")) for i in range(1, 5))
    for name, parts in cap.full.items():
        total = parts["residual"] + parts["shortcut"]
        assert torch.allclose(torch.relu(total), parts["output"], atol=1e-5), name


@pytest.mark.parametrize("make", [
    pytest.param(lambda: torchvision.models.resnet50(), id="torchvision:resnet50"),
    pytest.param(lambda: _timm("resnet50d")(), id="timm:resnet50d"),
    pytest.param(lambda: _timm("seresnet18")(), id="timm:seresnet18"),
])
def test_memory_estimates_match_real_runs_any_model(make) -> None:
    model = make()
    estimate = trace(model, input_size=LIB_SIZE, memory=True).memory
    x = torch.zeros(2, 3, LIB_SIZE, LIB_SIZE)
    assert saved_for_backward(model, x) == pytest.approx(estimate.training_activations_bytes(2), rel=0.02)
    assert inference_peak(model, x) == pytest.approx(estimate.inference_peak_bytes(2), rel=0.05)
