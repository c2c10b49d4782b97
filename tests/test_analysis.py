"""Channel ratios, stage transitions, receptive fields (checked against gradients) and comparisons."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from explorer import structure_trace, trace
from explorer.structure.analysis import channels, receptive_fields, stage_stats, stage_stats_rows, transitions
from explorer.structure.compare import compare, compare_summary
from explorer.structure.views import compare_views, structure_views
from resnet import IMAGENET_PRESETS, ResNetConfig, build, get_preset, parse_spec
from rf_probe import gradient_rf

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_RATIO = {"resnet18": 1, "resnet34": 1, "resnet50": 4, "resnet101": 4, "resnet152": 4,
                  "resnext50_32x4d": 2, "resnext101_32x8d": 1, "resnext101_64x4d": 1, "wide_resnet50_2": 2,
                  "wide_resnet101_2": 2}


@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_channels_and_ratios_for_every_preset(name: str) -> None:
    cfg = get_preset(name)
    rows = channels(structure_trace(cfg))
    assert len(rows) == sum(cfg.layers)
    planes = {1: 64, 2: 128, 3: 256, 4: 512}
    for r in rows:
        assert r.out_channels == planes[r.stage] * cfg.expansion
        expected_width = planes[r.stage] if cfg.block == "basic" else planes[r.stage] * cfg.width_per_group // 64 * cfg.groups
        assert r.width == expected_width
        assert r.ratio == pytest.approx(EXPECTED_RATIO[name])
        assert r.prefix == r.block and r.in_shape and r.out_shape
    assert ("Wide ResNet" in rows[0].reason) == name.startswith("wide")
    assert ("ResNeXt" in rows[0].reason) == name.startswith("resnext")


@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_transitions_for_every_preset(name: str) -> None:
    tr = transitions(structure_trace(get_preset(name)))
    assert [x.block for x in tr] == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    if get_preset(name).block == "bottleneck":
        assert tr[0].projection and tr[0].stride == 1 and (tr[0].from_channels, tr[0].to_channels) == (64, 256)
        assert "projection only to match channels" in tr[0].note
        assert (tr[1].from_channels, tr[1].to_channels, tr[1].stride) == (256, 512, 2)
    else:
        assert not tr[0].projection and "identity shortcut" in tr[0].note
        assert (tr[1].from_channels, tr[1].to_channels, tr[1].stride) == (64, 128, 2)
    assert all(x.projection for x in tr[1:])
    assert [x.to_size for x in tr] == ["56×56", "28×28", "14×14", "7×7"]


@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_stage_totals_add_up(name: str) -> None:
    t = structure_trace(get_preset(name))
    stats = stage_stats(t)
    assert sum(s.params for s in stats) == t.total_params
    assert sum(s.macs for s in stats) == t.total_macs
    assert sum(s.params_share for s in stats) == pytest.approx(1.0)
    assert [s.output_stride for s in stats[1:5]] == [4, 8, 16, 32]
    assert stage_stats_rows(t)[-1][:5] == ["total", len(t.blocks), t.total_params, 100.0, t.total_macs]


def _measured_rf(cfg: ResNetConfig, upto: str, height: int) -> int:
    measured = gradient_rf(build(cfg, init_weights=False), upto, height, width=64)
    assert measured < height - 2, "input too small: the receptive field was clipped"
    return measured


@pytest.mark.parametrize("cfg, points", [
    # (Not the stem alone: one max-pool unit passes gradient to a single argmax, so its gradient
    # footprint is narrower than its receptive field by construction; deeper units see every position.)
    (get_preset("resnet18"), ["layer1.0", "layer1", "layer2.0", "layer2", "layer3", "layer4"]),
    (get_preset("resnet50"), ["layer1", "layer2.0", "layer2", "layer3.2", "layer3", "layer4"]),
    (dataclasses.replace(get_preset("resnet50"), replace_stride_with_dilation=(False, True, True)),
     ["layer2", "layer3.0", "layer3", "layer4.1", "layer4"]),
    (dataclasses.replace(get_preset("resnet50"), stride_in="v1"), ["layer2.0", "layer3", "layer4"]),
])
def test_receptive_fields_equal_gradient_measurement(cfg: ResNetConfig, points: list[str]) -> None:
    analytic = {r.name: r.size for r in receptive_fields(structure_trace(cfg))}
    for name in points:
        expected = analytic[name]
        measured = _measured_rf(cfg, name, height=expected + 96)
        assert measured == expected, f"{cfg.slug} {name}: analytic {expected}, measured {measured}"


def test_known_receptive_fields() -> None:
    rf = {r.name: (r.size, r.output_stride) for r in receptive_fields(structure_trace(get_preset("resnet18")))}
    assert rf["layer4"] == (435, 32) and rf["stem"] == (11, 4)
    dil = dataclasses.replace(get_preset("resnet50"), replace_stride_with_dilation=(False, True, True))
    rf = {r.name: r.output_stride for r in receptive_fields(structure_trace(dil))}
    assert (rf["layer2"], rf["layer3"], rf["layer4"]) == (8, 8, 8)


@pytest.mark.parametrize("a, b, differing, only_b, delta_blocks", [
    ("resnet50", "resnet101", ["layer3"], 17, 17),
    ("resnet101", "resnet152", ["layer2", "layer3"], 17, 17),
    ("resnet18", "resnet34", ["layer1", "layer2", "layer3", "layer4"], 8, 8),
    ("resnet50", "wide_resnet50_2", ["layer1", "layer2", "layer3", "layer4"], 0, 0),
])
def test_compare_known_pairs(a: str, b: str, differing: list[str], only_b: int, delta_blocks: int) -> None:
    ta, tb = structure_trace(get_preset(a)), structure_trace(get_preset(b))
    c = compare(ta, tb)
    assert [s.stage for s in c.stages if not s.same] == differing
    assert len(c.only_in_b) == only_b and c.only_in_a == ()
    assert sum(s.blocks_b - s.blocks_a for s in c.stages) == delta_blocks
    assert c.params_delta == tb.total_params - ta.total_params
    assert c.macs_delta == tb.total_macs - ta.total_macs
    if (a, b) == ("resnet50", "resnet101"):
        assert c.only_in_b[0] == "layer3.6" and c.only_in_b[-1] == "layer3.22" and c.changed == ()
        assert "differ in layer3 (6 vs 23 blocks)" in compare_summary(c)
    if b == "wide_resnet50_2":
        assert len(c.changed) == 16


def test_views_are_cached_and_complete() -> None:
    v = structure_views(get_preset("resnet50"))
    assert v is structure_views(get_preset("resnet50"))
    assert [tr.name for tr in v.channels.data][:3] == ["input channels", "bottleneck width (1×1 reduce, 3×3)",
                                                        "output channels (1×1 expand)"]
    assert list(v.channels.data[3].y) == [4.0] * 16
    assert "layer2.0" in v.channels.data[0].customdata[3] and "state dict: layer2.0.*" in v.channels.data[0].customdata[3]
    assert v.channels.layout.height and v.transitions.layout.height
    assert [r[0] for r in v.stage_stats] == ["stem", "layer1", "layer2", "layer3", "layer4", "head", "total"]
    cv = compare_views(get_preset("resnet50"), parse_spec("bottleneck:3-4-23-3"))
    assert cv.rows[2][:4] == ["layer3", 6, 23, 17]


def test_cli_compare() -> None:
    r = subprocess.run([sys.executable, "-m", "explorer", "compare", "resnet50", "resnet101"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "A = resnet50, B = resnet101" in r.stdout
    layer3 = next(ln for ln in r.stdout.splitlines() if ln.startswith("layer3"))
    assert layer3.split()[1:4] == ["6", "23", "17"]
    r = subprocess.run([sys.executable, "-m", "explorer", "compare", "resnet50", "bottleneck:3-4-6-3:32x4d", "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    d = json.loads(r.stdout)
    assert d["comparison"]["b"] == "resnext50_32x4d"
    assert d["b"]["channels"][0]["ratio"] == 2.0
    r = subprocess.run([sys.executable, "-m", "explorer", "compare", "resnet50", "resnet5"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: unknown model 'resnet5'")


def test_real_weights_trace_gives_same_analysis() -> None:
    cfg = get_preset("resnet18")
    real = trace(build(cfg), input_size=224)
    assert receptive_fields(real) == receptive_fields(structure_trace(cfg))
