"""The tracer (one forward recorded as dataflow): shapes, shortcuts, MAC totals, clean-up after errors, the model
left unchanged (no hook, flag or tensor of it changed)."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torchvision
from torch import nn

import explorer
from explorer import structure_trace, trace
from resnet import IMAGENET_PRESETS, build, get_preset


@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_mac_totals_and_params_equal_torchvision(name: str, reference: dict) -> None:
    """torchvision publishes GFLOPS (its MACs, rounded to 3 places) and parameter counts for every builder."""
    t = structure_trace(get_preset(name))
    published = reference["presets"][name]
    assert abs(t.total_macs / 1e9 - published["gflops"]) <= 0.0006
    assert t.total_params == published["num_params"]
    assert t.total_macs == t.stem.macs + t.head.macs + sum(b.macs for b in t.blocks)
    assert t.total_params == t.stem.params + t.head.params + sum(b.params for b in t.blocks)


def test_resnet50_blocks_shapes_and_downsample() -> None:
    t = structure_trace(get_preset("resnet50"))
    assert [b.name for b in t.blocks][:4] == ["layer1.0", "layer1.1", "layer1.2", "layer2.0"]
    assert [s.blocks for s in t.stages] == [3, 4, 6, 3]
    b = t.block("layer2.0")
    assert (b.stage, b.index, b.block_type) == (2, 0, "Bottleneck")
    assert (b.in_shape, b.out_shape, b.stride, b.width) == ((256, 56, 56), (512, 28, 28), 2, 128)
    assert [c.out_shape for c in b.convs] == [(128, 56, 56), (128, 28, 28), (512, 28, 28)]
    assert b.downsample is not None
    assert (b.downsample.name, b.downsample.in_shape, b.downsample.out_shape, b.downsample.stride) == (
        "layer2.0.downsample", (256, 56, 56), (512, 28, 28), 2)
    assert b.downsample.label == "downsample: 1×1 conv s2 + BN, 256×56×56 → 512×28×28"
    first = t.block("layer1.0")
    assert first.downsample is not None and first.downsample.stride == 1  # channel projection at stride 1
    assert all(x.downsample is None for x in t.blocks if x.index > 0)
    assert t.stem.out_shape == (64, 56, 56) and t.head.out_shape == (1000,)
    model = build(get_preset("resnet50"), init_weights=False)
    assert t.block("layer3.2").params == sum(p.numel() for p in model.layer3[2].parameters())


def test_basic_block_trace_and_v1_stride() -> None:
    t = structure_trace(get_preset("resnet18"))
    assert [b.downsample is not None for b in t.blocks] == [False, False, True, False, True, False, True, False]
    assert t.block("layer2.0").convs[0].stride == 2
    v1 = structure_trace(dataclasses.replace(get_preset("resnet50"), stride_in="v1"))
    conv1, conv2, _ = v1.block("layer3.0").convs
    assert (conv1.stride, conv1.out_shape, conv2.stride) == (2, (256, 14, 14), 1)
    assert v1.total_macs < structure_trace(get_preset("resnet50")).total_macs  # 1x1 at low res is cheaper


def test_dilated_trace_keeps_resolution() -> None:
    cfg = dataclasses.replace(get_preset("resnet50"), replace_stride_with_dilation=(False, True, True))
    t = structure_trace(cfg)
    assert t.stages[3].out_shape == (2048, 28, 28)
    assert t.block("layer4.1").dilation == 4


def test_input_size_changes_resolution() -> None:
    t = structure_trace(get_preset("resnet50"), 320)
    assert t.stages[-1].out_shape == (2048, 10, 10)
    with pytest.raises(ValueError, match="input size must be at least 32 px, got 8"):
        structure_trace(get_preset("resnet50"), 8)


def test_trace_leaves_model_unchanged_and_hooks_removed() -> None:
    torch.manual_seed(0)
    model = build(get_preset("resnet18")).train()
    model.layer2.eval()  # mixed flags must be restored one by one
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = {n: m.training for n, m in model.named_modules()}
    trace(model, torch.randn(2, 3, 64, 64))
    assert {n: m.training for n, m in model.named_modules()} == flags
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN stats not updated
    assert all(not m._forward_hooks for m in model.modules())
    assert next(model.parameters()).device.type == "cpu"


def test_hooks_removed_when_forward_raises() -> None:
    model = build(get_preset("resnet18"), init_weights=False)
    with pytest.raises(RuntimeError):
        trace(model, torch.zeros(1, 3, 224, 224, dtype=torch.float64))  # dtype mismatch inside conv1
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training  # restored
    with pytest.raises(ValueError, match="N×3×H×W"):
        trace(model, torch.zeros(1, 1, 64, 64))


def test_hook_context_manager_cleans_up_on_error() -> None:
    lin = torch.nn.Linear(2, 2)
    calls = []
    with pytest.raises(ZeroDivisionError):
        with explorer.forward_hooks([("lin", lin, lambda *a: calls.append(a[0]))]):
            lin(torch.zeros(1, 2))
            1 / 0
    assert calls == ["lin"] and not lin._forward_hooks


def test_to_dict_is_json() -> None:
    d = json.loads(json.dumps(structure_trace(get_preset("resnet18")).to_dict()))
    assert d["total_params"] == 11_689_512
    assert d["blocks"][2]["downsample"]["name"] == "layer2.0.downsample"
    assert d["blocks"][2]["in_shape"] == [64, 56, 56]
    assert d["config"]["layers"] == [2, 2, 2, 2] and d["config"]["spec"] == "resnet18"
    assert d["stem"]["layers"][0] == {"name": "conv1", "kind": "conv", "out_shape": [64, 112, 112], "kernel_size": 7,
                                      "stride": 2, "dilation": 1}


def test_real_forward_agrees_with_structure_only() -> None:
    cfg = get_preset("resnext50_32x4d")
    real = trace(build(cfg), input_size=96)
    shape_only = structure_trace(cfg, 96)
    assert real.blocks == shape_only.blocks
    assert real.total_macs == shape_only.total_macs


def test_trace_on_explicit_cpu_device() -> None:
    t = trace(build(get_preset("resnet18"), init_weights=False), input_size=64, device="cpu")
    assert t.device == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_trace_on_cuda_returns_model_to_cpu() -> None:
    model = build(get_preset("resnet50"))
    t = trace(model, input_size=224, device="cuda")
    assert t.device.startswith("cuda")
    assert t.blocks == structure_trace(get_preset("resnet50")).blocks
    assert next(model.parameters()).device.type == "cpu"


def test_a_repeated_trace_follows_changes_to_the_model() -> None:
    model = torchvision.models.resnet18().eval()
    first = trace(model, input_size=64)
    assert trace(model, input_size=64) is first  # unchanged: recognised once
    model.layer1[0].conv2 = nn.Conv2d(64, 64, 3, 1, 2, dilation=2, bias=False)
    changed = trace(model, input_size=64)
    assert changed is not first and changed.block("layer1.0").dilation == 2

    class Doubled(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x)

    model.layer4 = nn.Sequential(model.layer4[0])  # one block fewer: another structure
    assert len(trace(model, input_size=64).blocks) == 7
    assert len(trace(Doubled(model), input_size=64).blocks) == 7
