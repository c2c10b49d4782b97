"""The real Gradio server, called with gradio_client, plus the thin handlers directly."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest

from explorer.graph.dot import SHORTCUT_EDGE
from resnet_explorer.context import APP
from resnet_explorer.handlers.model import apply_spec, custom_from_preset, show_custom, spec_from_controls
from resnet_explorer.handlers.selection import keep_selection
from resnet_explorer.handlers.structure import summarize as summarize_handler
from resnet_explorer.page import build_demo
from resnet_explorer.settings import AppSettings, parse_args

ROOT = Path(__file__).resolve().parent.parent

def summarize(client, spec: str = "resnet50", size: int = 224):
    return client.predict(spec, size, api_name="/summarize")


def test_summarize_preset(client) -> None:
    totals, stages, blocks, memory = client.predict("resnet101", 224, api_name="/summarize")  # the whole call
    assert "**33 blocks**" in totals and "layer3: Bottleneck ×23" in totals
    assert "**Memory** (1 image of 3×224×224): weights 170 MiB fp32 (85.2 MiB fp16/bf16)" in totals
    assert [r[0] for r in memory["data"]] == ["stem", "layer1", "layer2", "layer3", "layer4", "head", "total"]
    assert memory["data"][-1][1:] == ["170 MiB", "85.2 MiB", "11.3 MiB", "121 MiB"]
    assert "44,549,160" in totals
    assert [r[2] for r in stages["data"]] == [3, 4, 23, 3]
    assert len(blocks["data"]) == 33
    row = next(r for r in blocks["data"] if r[0] == "layer2.0")
    assert row[2] == "256×56×56 → 512×28×28" and row[4] == 2
    assert row[5] == "1×1 conv s2 + BN: 256×56×56 → 512×28×28"


def test_summarize_custom_spec_and_input_size(client) -> None:
    totals, stages, blocks, _ = summarize(client, "basic:1-1-2-1", 128)
    assert [r[2] for r in stages["data"]] == [1, 1, 2, 1]
    assert [r[0] for r in blocks["data"]] == ["layer1.0", "layer2.0", "layer3.0", "layer3.1", "layer4.0"]
    assert blocks["data"][-1][2] == "256×8×8 → 512×4×4"
    assert "**basic:1-1-2-1**" in totals


@pytest.mark.parametrize("spec, size, message", [
    ("basic:3-4-6-3:4x64d", 224, "groups must be 1 and width_per_group 64 for the basic block"),
    ("bottleneck:2.5-4-6-3", 224, "four numbers like 3-4-6-3"),
    ("bottleneck:0-4-6-3", 224, "blocks in layer1 must be at least 1, got 0"),
    ("bottleneck:3-4-6-201", 224, "layer4 has 201 blocks, over the limit of 200 per stage"),
    ("resnet51", 224, "unknown model 'resnet51'"),
    ("resnet50", 5000, "greater than maximum value 1024"),
])
def test_invalid_input_gives_clear_error_and_server_keeps_serving(client, spec, size, message) -> None:
    with pytest.raises(Exception) as err:
        summarize(client, spec, size)
    assert message in str(err.value)
    totals, *_ = summarize(client)  # the next request still works
    assert "**16 blocks**" in totals


def test_endpoints_are_named(client) -> None:
    info = client.view_api(print_info=False, return_format="dict")
    assert "/summarize" in info["named_endpoints"]
    params = [p["parameter_name"] for p in info["named_endpoints"]["/summarize"]["parameters"]]
    assert params == ["spec", "input_size", "batch"]
    for private in ("/custom_from_preset", "/spec_from_controls", "/apply_spec"):
        assert private not in info["named_endpoints"]  # UI glue stays private


def test_spec_and_controls_handlers() -> None:
    controls = ("Custom", "resnet50", "bottleneck", 2, 2, 2, 2, 4, 32, "v1", "ImageNet", "A", 16)
    assert spec_from_controls(*controls, "resnet50") == ("bottleneck:2-2-2-2:32x4d:v1",) * 2
    # options the controls do not show carry over from the current spec
    assert spec_from_controls(*controls, "resnet50:dil011:c10")[0] == "bottleneck:2-2-2-2:32x4d:v1:dil011:c10"
    assert spec_from_controls("Preset", "resnet101", "basic", 1, 1, 1, 1, 64, 1, "v1.5", "ImageNet", "A", 16,
                              "resnet50:c10")[0] == \
        "resnet101:c10"
    assert spec_from_controls("Custom", "resnet50", "bottleneck", 3, 4, 6, 3, 64, 1, "v1.5", "ImageNet", "A", 16,
                              "resnet18")[0] == \
        "resnet50"  # the same structure is the same model
    with pytest.raises(ValueError, match="groups must be 1 and width_per_group 64"):
        spec_from_controls("Custom", "resnet50", "basic", 2, 2, 2, 2, 64, 4, "v1.5", "ImageNet", "A", 16, "resnet50")
    spec, model, mode, preset, block, *rest = apply_spec("  Bottleneck:3-4-6-3:32x4d:V1 ")
    assert (spec, model, mode, preset, block) == ("resnext50_32x4d:v1", "resnext50_32x4d:v1", "Preset",
                                                  "resnext50_32x4d", "bottleneck")
    assert rest[:7] == [3, 4, 6, 3, 4, 32, "v1"] and rest[7] == "ImageNet"
    spec, _, mode, preset, *_ = apply_spec("basic:1-2-3-4")
    assert (spec, mode) == ("basic:1-2-3-4", "Custom") and preset == gr.update()
    with pytest.raises(ValueError, match="unknown model"):
        apply_spec("resnet5")
    block, *rest = custom_from_preset("resnext50_32x4d")
    assert block == "bottleneck" and rest[:8] == [3, 4, 6, 3, 4, 32, "v1.5", "ImageNet"]
    # the CIFAR family: three stages, the shortcut option and the base width
    cifar = ("Custom", "resnet50", "basic", 9, 9, 9, 2, 64, 1, "v1.5", "CIFAR", "B", 16)
    assert spec_from_controls(*cifar, "resnet50") == ("resnet56:optb",) * 2
    assert spec_from_controls(*cifar[:-3], "CIFAR", "A", 32, "resnet56:c100")[0] == "cifar:9-9-9:w32:c100"
    assert spec_from_controls("Preset", "resnet110", *cifar[2:], "resnet56:optb")[0] == "resnet110:optb"
    spec, _, mode, preset, *fields = apply_spec("resnet56:optc")
    assert (spec, mode, preset) == ("resnet56:optc", "Preset", "resnet56")
    assert fields[1:4] == [9, 9, 9] and fields[8:] == ["CIFAR", "C", 16]
    assert show_custom("Custom")["visible"] is True and show_custom("Preset")["visible"] is False


def test_cli_flags_default_to_localhost(monkeypatch) -> None:
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    args = parse_args([])
    assert (args.host, args.port, args.device) == ("127.0.0.1", 7860, "auto")
    assert parse_args(["--port", "9000", "--host", "0.0.0.0"]).port == 9000


def test_limit_flags_and_env_vars(monkeypatch) -> None:
    from explorer.limits import Limits

    assert parse_args(["--max-upload-mb", "0.5"]).limits == Limits(max_upload_mb=0.5)
    monkeypatch.setenv("RESNET_EXPLORER_CAPTURE_MB", "64")
    assert parse_args(["--max-input-size", "100"]).limits == Limits(capture_mb=64, max_input_size=100)


def test_a_small_input_size_limit_sets_the_slider() -> None:
    """--max-input-size below the usual 224 px: the slider starts at the limit instead of failing."""
    from explorer.limits import Limits

    before = APP.settings
    APP.configure(AppSettings(limits=Limits(max_input_size=100, max_blocks_per_stage=8)))
    try:
        demo = build_demo()
        size = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "input-size")
        depth = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "layer1-blocks")
        assert (size.maximum, size.value, depth.maximum) == (100, 100, 8)
        totals, *_ = summarize_handler("resnet18", 100)
        assert "input 3×100×100" in totals
        with pytest.raises(ValueError, match="input size 224 px is over the 100 px limit"):
            summarize_handler("resnet18", 224)
    finally:
        APP.configure(before)


@pytest.mark.parametrize("argv, env, message", [
    (["--max-input-size", "10"], {}, "app.py: error: --max-input-size must be at least 32 (the smallest input a "
                                     "ResNet takes), got 10 (see --help)"),
    (["--max-blocks-per-stage", "2.5"], {}, "app.py: error: --max-blocks-per-stage must be a whole number, got 2.5"),
    (["--capture-mb", "0"], {}, "app.py: error: --capture-mb must be positive, got 0"),
    (["--model-cache", "x"], {}, "app.py: error: argument --model-cache: invalid float value: 'x'"),
    ([], {"RESNET_EXPLORER_MAX_INPUT_SIZE": "abc"}, "app.py: error: RESNET_EXPLORER_MAX_INPUT_SIZE must be a "
                                                    "number, got 'abc'"),
    ([], {"RESNET_EXPLORER_MAX_INPUT_SIZE": "16"}, "app.py: error: RESNET_EXPLORER_MAX_INPUT_SIZE must be at least 32"),
])
def test_bad_flags_and_env_vars_exit_with_one_line(argv, env, message) -> None:
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "app.py", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MALLOC_ARENA_MAX": "2", **env})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(message), r.stderr


def test_help_answers_before_the_heavy_imports() -> None:
    import os
    import subprocess
    import sys

    code = ("import runpy, sys\nsys.argv = ['app.py', '--help']\ntry:\n    runpy.run_path('app.py', run_name='__main__')\n"
            "except SystemExit:\n    pass\nprint('gradio' in sys.modules, 'torch' in sys.modules, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MALLOC_ARENA_MAX": "2"})
    assert "--max-upload-mb N" in r.stdout and r.stderr.strip() == "False False"


GRAPH = ("blocks", "TB", False)


def test_graph_endpoint_returns_zoomable_svg(client) -> None:
    html = client.predict("resnet152", 224, *GRAPH, api_name="/graph")
    assert 'class="rx-graph"' in html and "<svg" in html and "<?xml" not in html
    assert html.count('class="node"') > 100
    assert "<title>layer3.35</title>" in html and "<title>layer2.0.downsample</title>" in html
    stages = client.predict("resnet50", 224, "stages", "TB", False, api_name="/graph")
    assert "layer3: Bottleneck ×6" in stages and "<title>layer3.0</title>" not in stages


@pytest.mark.parametrize("fmt, magic, name", [
    ("svg", b"<?xml", "resnet50_blocks.svg"), ("pdf", b"%PDF", "resnet50_blocks.pdf"),
    ("png", b"\x89PNG", "resnet50_blocks.png"), ("dot", b"digraph", "resnet50_blocks.dot"),
    ("json", b"{", "resnet50_trace.json"), ("csv", b"block,stage", "resnet50_blocks.csv"),
])
def test_export_downloads(client, fmt: str, magic: bytes, name: str) -> None:
    path = client.predict("resnet50", 224, *GRAPH, 96, api_name=f"/export_{fmt}")
    data = Path(path).read_bytes()
    assert Path(path).name == name
    assert data.startswith(magic)


@pytest.mark.parametrize("fmt, start, name", [
    ("svg", b"<svg", "resnet50_paper_blocks_dark_page.svg"), ("pdf", b"%PDF", "resnet50_paper_blocks_dark_page.pdf"),
    ("tex", b"% resnet50: paper blocks", "resnet50_paper_blocks_dark_page.tex"),
    ("drawio", b"<?xml", "resnet50_paper_blocks_dark_page.drawio"),
    ("mermaid", b"```mermaid", "resnet50_paper_blocks_dark_page.md"),
    ("graphml", b"<?xml", "resnet50_paper_blocks_dark_page.graphml")])
def test_paper_figure_exports(client, fmt: str, start: bytes, name: str) -> None:
    path = client.predict("resnet50", 224, "blocks", "TB", False, 150, "paper", "dark", "page",
                          api_name=f"/export_{fmt}")
    assert Path(path).name == name and Path(path).read_bytes().startswith(start)


def test_paper_figure_view_and_its_refusals(client) -> None:
    html = client.predict("resnext50_32x4d", 224, "blocks", "TB", False, "flat", "light", "page", api_name="/graph")
    assert 'class="rx-graph"' in html and "layer3 ×6" in html and "<polygon" not in html  # flat: no 3-D faces
    html = client.predict("resnext50_32x4d", 224, "layers", "TB", False, "paper", "light", "column", api_name="/graph")
    assert "layer3 ×6" in html and "<polygon" in html  # finer levels show the stages
    with pytest.raises(Exception, match="a paper figure draws stages or blocks, not 'ops'"):
        client.predict("resnet50", 224, "ops", "TB", False, 96, "paper", "light", "column", api_name="/export_svg")
    with pytest.raises(Exception, match="DOT is the Graphviz source"):
        client.predict("resnet50", 224, "stages", "TB", False, 96, "paper", "light", "column", api_name="/export_dot")
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict("resnet50", 224, "stages", "TB", False, "poster", "light", "column", api_name="/graph")


def test_export_custom_layers_pdf_name(client) -> None:
    path = client.predict("bottleneck:3-4-6-2:v1", 224, "layers", "TB", False, 96, api_name="/export_pdf")
    assert Path(path).name == "bottleneck_3-4-6-2_v1_layers.pdf"


def test_export_errors_are_clear(client) -> None:
    with pytest.raises(Exception, match="over the 32,000 px limit"):
        client.predict("resnet152", 224, "layers", "TB", False, 600, api_name="/export_png")
    with pytest.raises(Exception, match="'nodes'.*not in the list of choices"):
        client.predict("resnet50", 224, "nodes", "TB", False, api_name="/graph")


def test_graphviz_missing_in_app(client, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # the server runs in this process
    args = ("bottleneck:1-2-1-2", 224, *GRAPH)  # not rendered before
    html = client.predict(*args, api_name="/graph")
    assert 'class="rx-notice"' in html and "apt-get install graphviz" in html
    with pytest.raises(Exception, match="apt-get install graphviz"):
        client.predict(*args, 96, api_name="/export_svg")
    for fmt in ("dot", "json", "csv", "mermaid", "graphml"):
        assert Path(client.predict(*args, 96, api_name=f"/export_{fmt}")).stat().st_size > 100
    # the paper figure is drawn by our own layout, so it needs no Graphviz at all
    paper = (args[0], 224, "stages", "TB", False)
    assert "layer4 ×2" in client.predict(*paper, "paper", "light", "column", api_name="/graph")
    for fmt in ("svg", "pdf", "tex", "drawio"):
        assert Path(client.predict(*paper, 96, "flat", "dark", "page", api_name=f"/export_{fmt}")).stat().st_size > 1000


def test_structure_endpoint(client) -> None:
    ch, tr, cost, memory, stats, blocks = client.predict("wide_resnet50_2", 224, api_name="/structure")
    bars = {t["name"]: t for t in json.loads(memory["plot"])["data"]}
    assert list(bars) == ["weights (fp32)", "training activations", "inference peak (live while it runs)"]
    assert bars["weights (fp32)"]["x"][0] == "stem" and len(bars["weights (fp32)"]["x"]) == 18
    fig = json.loads(ch["plot"])
    ratio = next(t for t in fig["data"] if t["name"] == "out : width")
    assert ratio["y"] == [2.0] * 16 and "Wide ResNet" in ratio["customdata"][0][1]
    assert json.loads(tr["plot"])["layout"]["height"] > 0
    assert [r[0] for r in stats["data"]] == ["stem", "layer1", "layer2", "layer3", "layer4", "head", "total"]
    assert stats["data"][4][7] == 427  # receptive field after layer4
    assert blocks["data"][0][:6] == ["layer1.0", "Bottleneck", 64, 128, 256, 2.0]


def test_compare_endpoint(client) -> None:
    md, table, ch, cost = client.predict("resnet50", 224, "resnet101", api_name="/compare")
    assert "differ in layer3 (6 vs 23 blocks)" in md
    assert table["data"][2][:4] == ["layer3", 6, 23, 17]
    md, table, _, _ = client.predict("resnet50", 224, "bottleneck:3-4-6-3:32x4d:v1", api_name="/compare")
    assert "**resnext50_32x4d:v1**" in md and table["data"][-1][3] == 0
    with pytest.raises(Exception, match="unknown model 'resnet5'"):
        client.predict("resnet50", 224, "resnet5", api_name="/compare")


FM = dict(example="cat", weights="random", checkpoint=None, device="cpu", block="", k=16)


def features(client, upload=None, **changes):
    from gradio_client import handle_file

    fm = {**FM, **changes}
    ckpt = handle_file(str(fm["checkpoint"])) if fm["checkpoint"] else None
    return client.predict(fm.get("spec", "resnet18"), handle_file(str(upload)) if upload else None,
                          fm["example"], fm["weights"], ckpt, fm["device"], fm["block"], fm["k"],
                          api_name="/features")


def test_features_upload_grid_plot_and_predictions(client, tmp_path) -> None:
    import torch
    from PIL import Image

    from resnet import build, get_preset

    torch.manual_seed(3)
    ckpt = tmp_path / "resnet18-f37072fd.pth"  # torchvision's file name: V1 preprocessing is picked
    torch.save(build(get_preset("resnet18")).state_dict(), ckpt)
    image = tmp_path / "upload.png"
    Image.open(ROOT / "resnet_explorer" / "assets" / "examples" / "coffee.jpg").save(image)
    # the capture id lives in the session's gr.State, which the API hides; the client keeps the session
    notice, crop, block, grid, caption, zoom, over, network, preds = features(
        client, upload=image, weights="file", checkpoint=ckpt)
    assert "resnet18-f37072fd.pth (torchvision IMAGENET1K_V1, ImageNet top-1 69.8%)" in notice
    assert "Random" not in notice
    assert Image.open(crop).size == (224, 224)
    assert block["value"] == "layer2.0" and len(block["choices"]) == 8
    assert block["choices"][2] == ["layer2.0 · 128×28×28 · projection", "layer2.0"]  # labelled with shape
    g = Image.open(grid)
    assert g.format == "PNG" and g.size == (4 * 96 + 3 * 4, 4 * 96 + 3 * 4)
    assert "top 16 of 128 channels" in caption
    net = json.loads(network["plot"])
    assert [t["name"] for t in net["data"]][:3] == ["zeros", "mean", "‖F‖/‖shortcut‖"]
    assert len(net["data"][0]["x"]) == 8
    assert {shape["x0"] for shape in net["layout"]["shapes"]} == {2}  # the selected block is marked
    # the top-5 are the model's own: the same weights and image through the library give the same classes
    from explorer.features.store import FeatureStore
    from explorer.features.views import top5

    _, cap, _ = FeatureStore().run_image(get_preset("resnet18"), image, "file", str(ckpt))
    expected = top5(cap)
    assert [c["label"] for c in preds["confidences"]] == list(expected)
    assert [c["confidence"] for c in preds["confidences"]] == pytest.approx(list(expected.values()), rel=1e-5)

    # switching block reuses the capture (no forward pass) and honours k and channel
    g2, caption2, zoom2, over2, network2 = client.predict("layer4.1", 4, 7, api_name="/block_view")
    assert Image.open(g2).size == (2 * 96 + 4, 2 * 96 + 4)
    assert {shape["x0"] for shape in json.loads(network2["plot"])["layout"]["shapes"]} == {7}  # marker moved
    assert "layer4.1" in caption2 and "channel 7" in json.loads(zoom2["plot"])["layout"]["title"]["text"]


def test_features_random_weights_notice_and_no_predictions(client) -> None:
    notice, *_, preds = features(client, example="shapes")
    assert "Random weights (seed 0)" in notice
    assert not preds.get("confidences")


@pytest.mark.parametrize("content, name, message", [
    (b"", "empty.png", "the file is empty"),
    (b"not an image at all", "fake.png", "not an image we can read"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "vector.svg", "Invalid file type"),  # refused by the upload
    (b"<html><body>hi</body></html>", "page.jpg", "not an image we can read"),
])
def test_features_bad_image_then_recovers(client, tmp_path, content, name, message) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(Exception, match=message):
        features(client, upload=bad)
    notice, *_ = features(client)  # the app keeps working
    assert "Ran on" in notice


def test_features_bad_checkpoint(client, tmp_path) -> None:
    import torch

    from resnet import build, get_preset

    wrong = tmp_path / "r50.pth"
    torch.save(build(get_preset("resnet50"), init_weights=False).state_dict(), wrong)
    with pytest.raises(Exception, match="checkpoint does not fit this model"):
        features(client, weights="file", checkpoint=wrong)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x80\x04junk")
    with pytest.raises(Exception, match="not a PyTorch \\(.pth\\) or safetensors checkpoint"):
        features(client, weights="file", checkpoint=junk)
    with pytest.raises(Exception, match="no checkpoint for ResNet-18 in the torch hub cache"):
        features(client, weights="hub")


def test_block_view_without_run(client) -> None:
    with pytest.raises(Exception, match="run an image first"):
        client.predict("layer1.0", 16, -1, api_name="/block_view")


def test_ui_tables_read_as_people_read_them_and_files_keep_raw_numbers(client) -> None:
    from explorer.tracing import structure_trace
    from resnet import get_preset

    _, stages, blocks, _ = client.predict("resnet50", 224, api_name="/summarize")
    layer3 = next(r for r in stages["data"] if r[0] == "layer3")
    expected = structure_trace(get_preset("resnet50")).stages[2]
    assert layer3[5] == f"{expected.params:,}" and layer3[6] == f"{expected.macs:,}"
    assert layer3[2] == 6  # small counts stay numbers
    csv = Path(client.predict("resnet50", 224, "blocks", "TB", False, 96, api_name="/export_csv")).read_text()
    layer30 = next(b for b in structure_trace(get_preset("resnet50")).blocks if b.name == "layer3.0")
    assert f",{layer30.params},{layer30.macs}" in csv  # files keep raw numbers


def test_one_selected_block_for_every_view(client) -> None:
    selected, picker, facts, code, hub = client.predict("resnet50", 224, "layer3.0", "", api_name="/select_block")
    assert selected == "layer3.0" and picker["value"] == "layer3.0" and len(picker["choices"]) == 16
    assert facts.startswith("## layer3.0 · Bottleneck · projection shortcut") and "of the model" in facts
    assert "self._make_layer(Bottleneck, planes=256, blocks=6, stride=2)" in code
    assert 'data-block="layer3.0"' in hub and "layer4.2" in hub  # what the page highlights, and the block names
    # a new model keeps the block where it exists, else the first block
    assert keep_selection("resnet101", 224, "layer3.0")[0] == "layer3.0"
    assert keep_selection("resnet18", 224, "layer3.5")[0] == "layer1.0"
    with pytest.raises(Exception, match="no block named 'layer9.1' in resnet18; its blocks are layer1.0 … layer4.1"):
        client.predict("resnet18", 224, "layer9.1", "", api_name="/select_block")
    timm = client.predict("timm:resnet26d", 224, "layer2.0", "", api_name="/select_block")
    assert "timm.models.resnet.Bottleneck" in timm[3] and "(downsample): Sequential(" in timm[3]  # its own repr
    ch = client.predict("resnet50", 224, 1, "layer2.1", api_name="/structure")[0]
    shapes = json.loads(ch["plot"])["layout"]["shapes"]
    assert len(shapes) == 1 and shapes[0]["x0"] == 3.5  # the band over layer2.1 (the 5th block)
    projection = next(t for t in json.loads(ch["plot"])["data"] if t["name"] == "projection shortcut")
    assert projection["x"] == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    assert projection["marker"]["color"] == SHORTCUT_EDGE  # orange means projection in every view


def test_a_preset_over_a_lowered_limit_is_refused_in_the_totals() -> None:
    """A preset pick skips the queue (no toast there): its refusal takes the totals' place, nothing else moves."""
    from explorer.limits import Limits

    before = APP.settings
    APP.configure(AppSettings(limits=Limits(max_blocks_per_stage=8)))
    try:
        demo = build_demo()
        event = next(f for f in demo.fns.values() if f.name == "preset_views")
        by_id = {getattr(c, "elem_id", None): c for c in {*event.inputs, *event.outputs}}
        data = {c: getattr(c, "value", None) for c in event.inputs}  # (the page's first values, by component)
        data.update({by_id["mode"]: "Preset", by_id["preset"]: "resnet101", by_id["model"]: "resnet50",
                     by_id["active-tab"]: "tables"})
        out = event.fn(data)
        assert out == {by_id["totals"]: "**Cannot show this preset:** layer3 has 23 blocks, over the limit of 8 per "
                       "stage (raise it with RESNET_EXPLORER_MAX_BLOCKS_PER_STAGE, or --max-blocks-per-stage for "
                       "app.py)"}  # and nothing else changes
        ok = event.fn({**data, by_id["preset"]: "resnet18"})
        assert ok[by_id["spec"]] == ok[by_id["model"]] == "resnet18" and ok[by_id["totals"]].startswith("**resnet18**")
        assert ok[by_id["stage-table"]] and by_id["graph"] not in ok  # the open tab is redrawn, no other
    finally:
        APP.configure(before)
