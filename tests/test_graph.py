"""Architecture graphs and exports: structure from the trace, valid files, Graphviz missing."""
from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from explorer import structure_trace
from explorer.graph.export import export_bytes, export_filename, graph_source, rendered, write_export
from explorer.graph.dot import COLORS, SHORTCUT_EDGE, to_dot
from explorer.graph.levels import build_graph
from explorer.graph.render import GraphvizMissing, render, svg_size_pt
from resnet import ResNetConfig, get_preset

ROOT = Path(__file__).resolve().parent.parent
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_node_titles(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [g.find(f"{SVG_NS}title").text for g in root.iter(f"{SVG_NS}g") if g.get("class") == "node"]


@pytest.mark.parametrize("name, projections", [("resnet50", 4), ("resnet18", 3), ("resnet152", 4)])
def test_one_labelled_projection_path_per_stage_that_has_one(name: str, projections: int) -> None:
    t = structure_trace(get_preset(name))
    g = build_graph(t, "blocks")
    ds_nodes = [n for n in g.nodes if n.kind == "downsample"]
    assert len(ds_nodes) == projections
    for n in ds_nodes:
        block = t.block(n.id.removesuffix(".downsample"))
        assert n.label == f"{block.downsample.label}\n{block.downsample.name}"
        into = [e for e in g.edges if e.head == n.id]
        out = [e for e in g.edges if e.tail == n.id]
        assert [e.kind for e in into + out] == ["projection", "projection"]
        assert out[0].head == f"{block.name}:add" and out[0].label == "×".join(map(str, block.out_shape))
    if name == "resnet50":
        assert ds_nodes[0].label.startswith("downsample: 1×1 conv s1 + BN, 64×56×56 → 256×56×56")
        assert "layer2.0.downsample" in ds_nodes[1].label and "1×1 conv s2" in ds_nodes[1].label
    identity = [e for e in g.edges if e.kind == "identity"]
    assert len(identity) == len(t.blocks) - projections  # every other block: a skip edge into its add
    assert all(e.head.endswith(":add") for e in identity)


def test_edges_carry_trace_shapes_and_block_counts_match() -> None:
    cfg = ResNetConfig(layers=(2, 3, 5, 2))
    t = structure_trace(cfg, 160)
    g = build_graph(t, "blocks")
    for b in t.blocks:
        into = next(e for e in g.edges if e.head == b.name)
        out = next(e for e in g.edges if e.tail == b.name)
        assert into.label == "×".join(map(str, b.in_shape))
        assert out.label == "×".join(map(str, b.out_shape))
    assert [sum(1 for n in g.nodes if n.id.startswith(f"layer{s}.") and n.kind == "Bottleneck") for s in range(1, 5)] \
        == [2, 3, 5, 2]
    stages = build_graph(t, "stages")
    labels = {n.id: n.label for n in stages.nodes}
    assert labels["layer3"].startswith("layer3: Bottleneck ×5\n512 → 1024 ch · 20×20 → 10×10 · stride 2")


def test_svg_has_one_node_per_block_at_blocks_level() -> None:
    t = structure_trace(get_preset("resnet152"))
    svg = rendered(get_preset("resnet152"), 224, "blocks")
    titles = svg_node_titles(svg)
    assert sorted(x for x in titles if re.fullmatch(r"layer\d\.\d+", x)) == sorted(b.name for b in t.blocks)
    assert titles.count("layer1.0.downsample") == 1


def test_collapse_folds_repeats() -> None:
    g = build_graph(structure_trace(get_preset("resnet101")), "blocks", collapse=True)
    block_nodes = [n for n in g.nodes if n.kind == "Bottleneck"]
    assert len(block_nodes) == 8  # first block + one "×N" node per stage
    assert any(n.label.startswith("layer3.1 … layer3.22: Bottleneck ×22") for n in block_nodes)


def test_layers_level_shows_convs_bn_relu_and_add() -> None:
    t = structure_trace(get_preset("resnet50"))
    g = build_graph(t, "layers")
    in_block = [n for n in g.nodes if n.cluster == "layer2.0"]
    assert [n.label for n in in_block if n.kind == "Bottleneck"] == [
        "conv1: 1×1 256→128", "conv2: 3×3 128→128 s2", "conv3: 1×1 128→512"]
    assert sum(n.kind == "bn" for n in in_block) == 3 and sum(n.kind == "relu" for n in in_block) == 3
    assert sum(n.kind == "add" for n in in_block) == 1
    assert len(g.clusters) == 16


def test_colours_consistent_across_levels() -> None:
    t = structure_trace(get_preset("resnet50"))
    for level in ("blocks", "layers"):
        dot = to_dot(build_graph(t, level))
        assert COLORS["Bottleneck"] in dot and COLORS["downsample"] in dot and SHORTCUT_EDGE in dot
        assert COLORS["stem"] in dot
    assert COLORS["BasicBlock"] in to_dot(build_graph(structure_trace(get_preset("resnet18")), "stages"))


def test_directions() -> None:
    assert "rankdir=LR" in graph_source(get_preset("resnet18"), 224, "stages", "LR")
    with pytest.raises(ValueError, match="direction must be one of"):
        graph_source(get_preset("resnet18"), 224, "stages", "BT")
    with pytest.raises(ValueError, match="level must be one of"):
        graph_source(get_preset("resnet18"), 224, "modules")


def test_export_formats_are_valid(tmp_path: Path) -> None:
    cfg = get_preset("resnet50")
    svg = export_bytes(cfg, "svg")
    ET.fromstring(svg)
    assert export_bytes(cfg, "pdf").startswith(b"%PDF")
    dot = export_bytes(cfg, "dot").decode()
    assert render(dot, "svg") == svg  # DOT re-renders to the same drawing
    trace = json.loads(export_bytes(cfg, "json"))
    assert trace["total_params"] == 25_557_032
    rows = export_bytes(cfg, "csv").decode().splitlines()
    assert rows[0].startswith("block,stage,index,type,in_shape,out_shape") and len(rows) == 17
    assert rows[4].startswith("layer2.0,2,0,Bottleneck,256×56×56,512×28×28,128,4,2,1,layer2.0.downsample")


@pytest.mark.parametrize("dpi", [72, 150])
def test_png_signature_and_requested_size(dpi: int) -> None:
    cfg = get_preset("resnet18")
    png = export_bytes(cfg, "png", level="stages", dpi=dpi)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    w_pt, h_pt = svg_size_pt(export_bytes(cfg, "svg", level="stages"))
    assert abs(width - w_pt * dpi / 72) <= 2 and abs(height - h_pt * dpi / 72) <= 2


def test_png_too_large_is_refused_with_advice() -> None:
    with pytest.raises(ValueError, match=r"over the 32,000 px limit; use at most \d+ dpi"):
        export_bytes(get_preset("resnet152"), "png", level="layers", dpi=600)


def test_ops_level_is_torchview_with_module_paths() -> None:
    src = graph_source(get_preset("resnet18"), 64, "ops")
    assert "layer2.0.downsample.0<BR/>Conv2d" in src and "layer4.1.conv2<BR/>Conv2d" in src
    assert "add" in src  # torchview's function nodes for the residual add
    svg = render(src, "svg")
    assert len(svg_node_titles(svg)) > 60


def test_export_names_and_fresh_folders(tmp_path: Path) -> None:
    assert export_filename(get_preset("resnet152"), "svg", "blocks") == "resnet152_blocks.svg"
    assert export_filename(ResNetConfig(layers=(3, 4, 6, 2)), "pdf", "layers") == "bottleneck_3-4-6-2_layers.pdf"
    assert export_filename(ResNetConfig(groups=32, width_per_group=4, stride_in="v1"), "json") == \
        "resnext50_32x4d_v1_trace.json"
    a = write_export(get_preset("resnet18"), "csv", root=tmp_path)
    b = write_export(get_preset("resnet18"), "csv", root=tmp_path)
    assert a.name == b.name == "resnet18_blocks.csv" and a.parent != b.parent and a.parent.parent == tmp_path


def test_repeated_render_is_cached() -> None:
    cfg = ResNetConfig(layers=(4, 4, 4, 4))
    first = rendered(cfg, 224, "blocks")
    assert rendered(cfg, 224, "blocks") is first


def test_graphviz_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render("digraph { a }", "svg")
    cfg = ResNetConfig(layers=(1, 1, 1, 2))
    assert export_bytes(cfg, "dot").startswith(b'digraph "bottleneck:1-1-1-2: blocks"')
    assert export_bytes(cfg, "csv") and export_bytes(cfg, "json")


def run_cli(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)


def test_cli_export(tmp_path: Path) -> None:
    out = tmp_path / "resnet152.svg"
    r = run_cli("export", "resnet152", "--level", "blocks", "--format", "svg", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"wrote {out}")
    assert len([t for t in svg_node_titles(out.read_bytes()) if re.fullmatch(r"layer\d\.\d+", t)]) == 50
    r = run_cli("export", "resnet50", "--layers", "3", "4", "6", "2", "--level", "layers", "--format", "pdf",
                cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "bottleneck_3-4-6-2_layers.pdf").read_bytes().startswith(b"%PDF")
    # every subcommand takes every form of the spec
    r = run_cli("export", "bottleneck:2-2-2-2:32x4d", "--format", "csv", cwd=tmp_path,
                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and (tmp_path / "bottleneck_2-2-2-2_32x4d_blocks.csv").read_text().count("\n") == 9


@pytest.mark.parametrize("output, fmt, magic", [("out.png", None, b"\x89PNG"), ("out.pdf", None, b"%PDF"),
                                                ("out.dot", None, b"digraph"), ("out", "png", b"\x89PNG"),
                                                ("out.PNG", "png", b"\x89PNG"), (None, None, b"<?xml")])
def test_cli_export_format_follows_the_extension(tmp_path: Path, output: str | None, fmt: str | None,
                                                 magic: bytes) -> None:
    args = ["export", "resnet18", *(["-o", str(tmp_path / output)] if output else []), *(["--format", fmt] if fmt else [])]
    r = run_cli(*args, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    written = tmp_path / (output or "resnet18_blocks.svg")
    assert written.read_bytes().startswith(magic)


@pytest.mark.parametrize("args, code, message", [
    (["export", "resnet50", "--level", "modules"], 2, "argument --level: invalid choice: 'modules'"),
    (["export", "resnet50", "--format", "gif"], 2, "argument --format: invalid choice: 'gif'"),
    (["export", "resnet50", "-o", "/nonexistent-dir/x.svg"], 2, "cannot write /nonexistent-dir/x.svg"),
    (["export", "resnet50", "--format", "png", "--dpi", "5000"], 2, "dpi must be an integer from 36 to 600"),
    (["export", "resnet50", "--format", "png", "-o", "out.svg"], 2, "-o out.svg says .svg but --format is png"),
    (["export", "resnet50", "-o", "out.jpg"], 2, "cannot tell the format from 'out.jpg'"),
    (["export", "resnet50", "--format", "svg", "-o", "out.jpg"], 2, "-o out.jpg says .jpg but --format is svg"),
])
def test_cli_export_errors(args: list[str], code: int, message: str) -> None:
    r = run_cli(*args)
    assert r.returncode == code
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


def test_cli_without_graphviz(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}
    r = run_cli("export", "resnet50", "-o", str(tmp_path / "x.svg"), env=env)
    assert r.returncode == 3 and "apt-get install graphviz" in r.stderr and r.stderr.count("\n") == 1
    r = run_cli("export", "resnet50", "-o", str(tmp_path / "x.dot"), env=env)
    assert r.returncode == 0 and (tmp_path / "x.dot").read_text().startswith("digraph")
