"""The network: torchvision fidelity (keys, shapes, counts, logits), stride placement, validation."""
from __future__ import annotations

import dataclasses
import random
import re

import pytest
import torch

import resnet
from resnet import IMAGENET_PRESETS, PRESETS, ResNetConfig, build, get_preset, parse_spec
from synthetic_weights import synthetic_input, synthetic_state_dict

@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_preset_matches_torchvision_keys_shapes_and_params(name: str, reference: dict) -> None:
    model = build(get_preset(name), init_weights=False)
    keys = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert keys == reference["presets"][name]["keys"]
    assert sum(p.numel() for p in model.parameters()) == reference["presets"][name]["num_params"]


@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_builders_have_torchvision_names(name: str) -> None:
    builder = getattr(resnet, name)
    assert builder.__name__ == name
    if name in ("resnet18", "resnet50"):  # building every preset with init is slow; structure checked above
        model = builder(num_classes=7)
        assert model.fc.out_features == 7
        assert model.config.layers == PRESETS[name].config.layers


def _cfg(case: dict) -> ResNetConfig:
    kwargs = dict(case["kwargs"])
    if "replace_stride_with_dilation" in kwargs:
        kwargs["replace_stride_with_dilation"] = tuple(kwargs["replace_stride_with_dilation"])
    return dataclasses.replace(get_preset(case["preset"]), **kwargs)


@pytest.mark.parametrize("case", ["resnet18", "resnet50", "resnext50_32x4d", "resnet50_dilated", "resnet18_10cls"])
def test_logits_equal_torchvision(case: str, reference: dict) -> None:
    ref = reference["numerics"][case]
    model = build(_cfg(ref)).eval()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict(synthetic_state_dict(shapes), strict=True)
    with torch.no_grad():
        logits = model(synthetic_input(reference["input_size"]))[0]
    expected = torch.tensor(ref["logits"])
    assert logits.shape == expected.shape
    scale = expected.abs().max().item()
    assert torch.allclose(logits, expected, atol=1e-5 * max(scale, 1.0), rtol=1e-5)


def _stage_shapes(model: torch.nn.Module, size: int) -> list[tuple[int, ...]]:
    shapes = []
    x = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        x = model.stem(x)
        for name in resnet.STAGE_NAMES:
            x = getattr(model, name)(x)
            shapes.append(tuple(x.shape[1:]))
    return shapes


def test_per_stage_shapes_bottleneck_and_basic() -> None:
    assert _stage_shapes(build(get_preset("resnet50"), init_weights=False).eval(), 224) == [
        (256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
    assert _stage_shapes(build(get_preset("resnet18"), init_weights=False).eval(), 224) == [
        (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]
    dilated = dataclasses.replace(get_preset("resnet50"), replace_stride_with_dilation=(False, True, True))
    assert _stage_shapes(build(dilated, init_weights=False).eval(), 224) == [
        (256, 56, 56), (512, 28, 28), (1024, 28, 28), (2048, 28, 28)]


def test_first_block_of_each_stage_gets_projection_and_4_to_1_ratio() -> None:
    model = build(get_preset("resnet50"), init_weights=False)
    for name, planes in zip(resnet.STAGE_NAMES, (64, 128, 256, 512)):
        stage = getattr(model, name)
        assert isinstance(stage, torch.nn.Sequential)
        assert stage[0].downsample is not None  # layer1.0 too: 64 -> 256 channels at stride 1
        assert all(b.downsample is None for b in list(stage)[1:])
        for block in stage:
            assert block.conv3.out_channels == 4 * block.conv1.out_channels == 4 * planes
    basic = build(get_preset("resnet18"), init_weights=False)
    assert basic.layer1[0].downsample is None  # 64 -> 64 at stride 1 needs no projection
    assert all(getattr(basic, n)[0].downsample is not None for n in resnet.STAGE_NAMES[1:])


def test_stride_placement_v1_vs_v15() -> None:
    v15 = build(get_preset("resnet50"), init_weights=False)
    v1 = build(dataclasses.replace(get_preset("resnet50"), stride_in="v1"), init_weights=False)
    for name in ("layer2", "layer3", "layer4"):
        assert getattr(v15, name)[0].conv1.stride == (1, 1)
        assert getattr(v15, name)[0].conv2.stride == (2, 2)
        assert getattr(v1, name)[0].conv1.stride == (2, 2)
        assert getattr(v1, name)[0].conv2.stride == (1, 1)
    # Same parameters, same keys, same output shapes; different computation.
    assert [(k, v.shape) for k, v in v1.state_dict().items()] == [(k, v.shape) for k, v in v15.state_dict().items()]
    assert _stage_shapes(v1.eval(), 224) == _stage_shapes(v15.eval(), 224)
    torch.manual_seed(0)
    a = build(get_preset("resnet50")).eval()
    b = build(dataclasses.replace(get_preset("resnet50"), stride_in="v1")).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))


def test_zero_init_residual_zeroes_last_bn() -> None:
    model = build(dataclasses.replace(get_preset("resnet18"), zero_init_residual=True))
    assert all(int(torch.count_nonzero(b.bn2.weight)) == 0 for s in resnet.STAGE_NAMES for b in getattr(model, s))
    model = build(dataclasses.replace(get_preset("resnet50"), zero_init_residual=True))
    assert all(int(torch.count_nonzero(b.bn3.weight)) == 0 for s in resnet.STAGE_NAMES for b in getattr(model, s))
    assert int(torch.count_nonzero(model.layer1[0].bn1.weight)) > 0


def test_structure_only_build_is_finite_and_same_shape() -> None:
    model = build(get_preset("resnet50"), init_weights=False).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
    assert torch.isfinite(out).all()
    assert out.shape == (1, 1000)


@pytest.mark.parametrize(
    "fields, message",
    [
            ({"layers": (0, 1, 1, 1)}, r"blocks in layer1 must be at least 1, got 0"),
            ({"layers": (1, -2, 1, 1)}, r"blocks in layer2 must be at least 1, got -2"),
            ({"layers": (1, 2.5, 1, 1)}, r"blocks in layer2 must be a whole number at least 1, got 2.5"),
        ({"layers": (1, 1, 1)}, r"layers must be 4 per-stage block counts"),
        ({"groups": 0}, r"groups must be from 1 to 64, got 0"),
        ({"width_per_group": 1000}, r"width_per_group must be from 1 to 256, got 1000"),
        ({"block": "basic", "groups": 32}, r"groups must be 1 and width_per_group 64 for the basic block"),
        ({"block": "basic", "replace_stride_with_dilation": (False, True, True)}, r"needs the bottleneck block"),
        ({"block": "tiny"}, r"block must be one of \['basic', 'bottleneck'\]"),
        ({"stride_in": "v2"}, r"stride_in must be one of"),
        ({"num_classes": 0}, r"num_classes must be from 1"),
    ],
)
def test_invalid_configs_name_field_and_range(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResNetConfig(**fields)


def test_unknown_preset_lists_choices() -> None:
    with pytest.raises(ValueError, match="unknown preset 'resnet51'.*resnet50"):
        get_preset("resnet51")


def test_spec_names_presets_and_custom_configs() -> None:
    assert get_preset("resnet152").spec == "resnet152" and get_preset("resnet152").slug == "resnet152"
    assert ResNetConfig(layers=(3, 4, 6, 3)).spec == "resnet50"  # the same structure is the same model
    assert ResNetConfig(layers=[2, 2, 2, 2], groups=32, width_per_group=4).spec == "bottleneck:2-2-2-2:32x4d"
    assert ResNetConfig(layers=[3, 4, 6, 3]) == ResNetConfig(layers=(3, 4, 6, 3))  # lists are normalised
    changed = dataclasses.replace(get_preset("resnet50"), replace_stride_with_dilation=(False, True, True))
    assert changed.spec == "resnet50:dil011" and changed.slug == "resnet50_dil011"
    assert changed.preset is None and get_preset("resnet50").preset == "resnet50"
    assert changed.title == "resnet50:dil011" and get_preset("resnet50").title == "ResNet-50"
    assert parse_spec("bottleneck:3-4-6-3:32x4d:v1").spec == "resnext50_32x4d:v1"
    assert parse_spec(" ResNet101 ") == get_preset("resnet101")
    assert parse_spec("basic:1-2-3-4:c10:zi") == ResNetConfig(block="basic", layers=(1, 2, 3, 4), num_classes=10,
                                                              zero_init_residual=True)
    assert ResNetConfig.parse("resnet18:c37").num_classes == 37


@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_spec_round_trip_every_preset(name: str) -> None:
    config = get_preset(name)
    assert parse_spec(config.spec) == config and config.spec == name
    for change in ({"stride_in": "v1"}, {"num_classes": 10}, {"zero_init_residual": True}):
        changed = dataclasses.replace(config, **change)
        assert parse_spec(changed.spec) == changed and changed.spec.startswith(name + ":")


def test_spec_round_trip_random_custom_configs() -> None:
    rng = random.Random(0)
    for _ in range(500):
        block = rng.choice(["basic", "bottleneck"])
        wide = block == "bottleneck" and rng.random() < 0.5
        config = ResNetConfig(
            block=block, layers=tuple(rng.randint(1, 64) for _ in range(4)),
            groups=rng.randint(1, 64) if wide else 1, width_per_group=rng.randint(1, 256) if wide else 64,
            stride_in=rng.choice(["v1", "v1.5"]),
            replace_stride_with_dilation=tuple(rng.random() < 0.3 for _ in range(3)) if block == "bottleneck"
            else (False, False, False),
            num_classes=rng.choice([1000, 10, 1, 37, 100_000]), zero_init_residual=rng.random() < 0.2)
        spec = config.spec
        assert parse_spec(spec) == config, spec
        assert parse_spec(spec).spec == spec  # canonical
        assert ":" not in config.slug and config.slug.replace("_", ":") == spec.replace("_", ":")


@pytest.mark.parametrize("spec, message", [
    ("resnet51", "unknown model 'resnet51'; use a preset"),
    ("", "a model spec is"),
    ("bottleneck", "after 'bottleneck' come the blocks per stage"),
    ("bottleneck:3-4-6", "four numbers like 3-4-6-3"),
    ("bottleneck:3-4-6-3:fast", "cannot read 'fast'"),
    ("basic:2-2-2-2:32x4d", "groups must be 1 and width_per_group 64 for the basic block"),
    ("bottleneck:0-1-1-1", "blocks in layer1 must be at least 1, got 0"),
    ("timm:resnet50d", "unknown model 'timm:resnet50d'"),
])
def test_bad_specs_say_what_was_expected(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_spec(spec)


def test_builders_take_torchvision_weights_keyword(tmp_path, monkeypatch) -> None:
    from resnet import CheckpointError

    assert resnet.resnet18(weights=None, progress=False).fc.out_features == 1000
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(CheckpointError, match=r"resnet18 IMAGENET1K_V1 weights are not in the torch hub cache.*"
                                              r"download_weights\('resnet18', 'IMAGENET1K_V1'\)"):
        resnet.resnet18(weights="DEFAULT")
    with pytest.raises(CheckpointError, match="unknown weights 'IMAGENET1K_V9' for resnet50; use one of: DEFAULT, "
                                              "IMAGENET1K_V1, IMAGENET1K_V2"):
        resnet.resnet50(weights="IMAGENET1K_V9")
    torch.manual_seed(1)
    trained = resnet.resnet18()
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(trained.state_dict(), folder / "resnet18-f37072fd.pth")
    loaded = resnet.resnet18(weights="IMAGENET1K_V1")
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), loaded.state_dict().values()))
    with pytest.raises(CheckpointError, match="1000 classes"):
        resnet.resnet18(weights="DEFAULT", num_classes=10)


def test_blocks_know_their_last_bn() -> None:
    model = build(get_preset("resnet50"), init_weights=False)
    basic = build(get_preset("resnet18"), init_weights=False)
    assert model.layer1[0].last_bn is model.layer1[0].bn3 and model.layer1[0].last_bn_name == "bn3"
    assert basic.layer1[0].last_bn is basic.layer1[0].bn2 and basic.layer1[0].last_bn_name == "bn2"
    assert [n for n, _ in model.named_blocks()][:4] == ["layer1.0", "layer1.1", "layer1.2", "layer2.0"]
