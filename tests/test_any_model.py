"""Any ResNet-family module (#12): torchvision's and timm's real models, a wrapper holding a backbone, and a
module that is not a ResNet. Each is checked against what the test measures itself: its own hooks, the
parameter count, torchinfo's mult-adds, gradients for receptive fields, saved tensors for memory."""
from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from memory_probe import inference_peak, saved_for_backward
from rf_probe import gradient_rf
from torch import nn
from torchinfo import summary

from explorer.capture import capture
from explorer.graph.levels import build_graph
from explorer.structure.analysis import analysis_dict, receptive_fields
from explorer.tracing import ForwardFailed, NotAResNet, trace

SIZE = 96
TIMM = ["resnet18", "resnet26", "resnet50d", "resnet26t", "resnet10t", "resnet18d", "seresnet18", "ecaresnet26t",
        "resnetrs50", "resnetblur18", "resnetaa34d", "ecaresnext26t_32x4d", "wide_resnet50_2", "resnext50_32x4d",
        "seresnext26d_32x4d"]
TORCHVISION = ["resnet18", "resnet34", "resnet50", "resnext50_32x4d", "wide_resnet50_2"]


def _timm(name: str) -> nn.Module:
    return timm.create_model(name, pretrained=False).eval()


def _models() -> list:
    return ([pytest.param(lambda n=n: _timm(n), id=f"timm:{n}") for n in TIMM]
            + [pytest.param(lambda n=n: getattr(torchvision.models, n)(num_classes=10).eval(), id=f"torchvision:{n}")
               for n in TORCHVISION])


def _own_hooks(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    handles = [modules[n].register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape[1:])))
               for n in names]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return shapes


@pytest.mark.parametrize("make", _models())
def test_trace_matches_hooks_params_and_torchinfo(make) -> None:
    model = make()
    t = trace(model, input_size=SIZE)
    stages = [n for n, m in model.named_children() if n.startswith("layer")]
    expected = [f"{s}.{i}" for s in stages for i in range(len(getattr(model, s)))]
    assert [b.name for b in t.blocks] == expected
    shapes = _own_hooks(model, expected, torch.zeros(1, 3, SIZE, SIZE))
    assert {b.name: b.out_shape for b in t.blocks} == shapes
    assert t.total_params == sum(p.numel() for p in model.parameters())
    info = summary(model, input_size=(1, 3, SIZE, SIZE), verbose=0)
    assert t.total_macs == pytest.approx(info.total_mult_adds, rel=0.01)
    assert t.output_shape == tuple(model(torch.zeros(1, 3, SIZE, SIZE)).shape[1:])
    assert analysis_dict(t)["stages"][-1]["output_stride"] == 32
    layers = build_graph(t, "layers")
    for b in t.blocks:  # whatever a block holds beyond convs is in the records and the layers graph
        for extra in b.extras:
            assert any(n.id == extra.name for n in layers.nodes), extra


def test_what_blocks_hold_is_shown_for_what_it_is() -> None:
    t = trace(_timm("resnet50d"), input_size=SIZE)
    assert t.model_name == "timm:resnet50d"
    assert t.block("layer2.0").downsample.kind == "2×2 avgpool s2 + 1×1 conv s1 + BN"
    assert t.stem.label.startswith("3×3 conv s2 + BN + ReLU + 3×3 conv + BN + ReLU + 3×3 conv + BN + ReLU")
    assert [e.kind for e in trace(_timm("seresnet18"), input_size=SIZE).block("layer1.0").extras] == ["SEModule"]
    blur = trace(_timm("resnetblur18"), input_size=SIZE).block("layer2.0")
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
    model = _timm(name)
    analytic = {r.name: r for r in receptive_fields(trace(model, input_size=SIZE))}
    for point in points:
        expected = analytic[point].size
        height = (expected + 96) // 32 * 32 + 32  # a multiple of 32: avg-pool shortcuts need even sizes
        measured = gradient_rf(model, point, height=height, width=64)
        assert not analytic[point].global_context and measured == expected, (name, point, measured, expected)


def test_attention_gives_global_context_and_gradients_agree() -> None:
    model = _timm("seresnet18")
    rf = {r.name: r for r in receptive_fields(trace(model, input_size=SIZE))}
    assert not rf["stem"].global_context and rf["layer1.0"].global_context
    height = rf["layer1.0"].size + 96
    measured = gradient_rf(model, "layer1.0", height=height)
    # the squeeze (a global mean) lets (nearly) every input row reach the unit, far beyond the convs' field
    assert measured >= height - 2 and measured > rf["layer1.0"].size + 90


@pytest.mark.parametrize("make", [
    pytest.param(lambda: torchvision.models.resnet50().eval(), id="torchvision:resnet50"),
    pytest.param(lambda: _timm("seresnet18"), id="timm:seresnet18"),
    pytest.param(lambda: _timm("resnet50d"), id="timm:resnet50d"),
])
def test_capture_numerics_any_model(make) -> None:
    """F(x) + shortcut = the block's pre-activation sum, whatever the block holds."""
    torch.manual_seed(0)
    model = make()
    cap = capture(model, torch.randn(1, 3, SIZE, SIZE), keep_full=True)
    assert len(cap.blocks) == sum(len(getattr(model, f"layer{i}")) for i in range(1, 5))
    for name, parts in cap.full.items():
        total = parts["residual"] + parts["shortcut"]
        assert torch.allclose(torch.relu(total), parts["output"], atol=1e-5), name


@pytest.mark.parametrize("make", [
    pytest.param(lambda: torchvision.models.resnet50(), id="torchvision:resnet50"),
    pytest.param(lambda: _timm("resnet50d"), id="timm:resnet50d"),
    pytest.param(lambda: _timm("seresnet18"), id="timm:seresnet18"),
])
def test_memory_estimates_match_real_runs_any_model(make) -> None:
    model = make()
    estimate = trace(model, input_size=SIZE, memory=True).memory
    x = torch.zeros(2, 3, SIZE, SIZE)
    assert saved_for_backward(model, x) == pytest.approx(estimate.training_activations_bytes(2), rel=0.02)
    assert inference_peak(model, x) == pytest.approx(estimate.inference_peak_bytes(2), rel=0.05)


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
