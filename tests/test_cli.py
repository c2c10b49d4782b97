"""The CLI as a user runs it: ``python -m explorer ...`` in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resnet import build, get_preset

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_summary_table() -> None:
    r = run("summary", "resnet50")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["block", "type", "in"]
    blocks, memory = r.stdout.split("\n\nmemory, batch 1:\n")
    lines = blocks.splitlines()
    assert sum(1 for ln in lines if ln.startswith("layer")) == 16
    assert any(ln.startswith("layer2.0") and "1×1 conv s2 + BN: 256×56×56 → 512×28×28" in ln for ln in lines)
    total = r.stdout.splitlines()[-1]
    assert "25,557,032 params" in total and "4,089,238,376 MACs" in total
    rows = {ln.split()[0]: ln for ln in memory.splitlines()[2:] if ln}
    assert list(rows) == ["stem", "layer1", "layer2", "layer3", "layer4", "head", "total", "total:"]
    assert rows["total"].split()[1:3] == ["97.7", "MiB"]  # 25.6 M parameters and the BN buffers, fp32


@pytest.mark.parametrize("args", [
    ["basic:1-2-3-1"],
    ["resnet18", "--layers", "1", "2", "3", "1"],
    ["resnet50", "--block", "basic", "--layers", "1", "2", "3", "1"],
])
def test_summary_json_every_form_of_the_spec(args: list[str]) -> None:
    r = run("summary", *args, "--json", "--input-size", "64")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [b["name"] for b in d["blocks"]] == ["layer1.0", "layer2.0", "layer2.1", "layer3.0", "layer3.1",
                                                "layer3.2", "layer4.0"]
    assert d["input_shape"] == [3, 64, 64]
    assert d["model_name"] == d["config"]["spec"] == "basic:1-2-3-1"


def test_every_subcommand_takes_a_spec(tmp_path: Path) -> None:
    spec = "bottleneck:3-4-6-3:32x4d:v1"
    assert run("summary", spec).stdout.splitlines()[-1].startswith("total: 16 blocks (3-4-6-3), 25,028,904 params")
    assert json.loads(run("analyze", spec).stdout)["channels"][0]["width"] == 128
    assert run("compare", spec, "resnext50_32x4d").stdout.startswith("A = resnext50_32x4d:v1, B = resnext50_32x4d")
    r = run("export", spec, "--format", "json", "-o", str(tmp_path / "t.json"))
    assert r.returncode == 0 and json.loads((tmp_path / "t.json").read_text())["config"]["spec"] == "resnext50_32x4d:v1"
    d = json.loads(run("features", "basic:1-1-1-1", CAT, "--json").stdout)
    assert d["model"] == "basic:1-1-1-1" and len(d["blocks"]) == 4


def test_summary_with_weights_and_device(tmp_path: Path) -> None:
    ckpt = tmp_path / "r18.pth"
    torch.save(build(get_preset("resnet18")).state_dict(), ckpt)
    r = run("summary", "resnet18", "--weights", str(ckpt), "--device", "cpu", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["device"] == "cpu"
    r = run("summary", "resnet50", "--weights", str(ckpt))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "checkpoint does not fit this model" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["summary", "resnet51"], "unknown model 'resnet51'; use a preset"),
    (["summary", "custom"], "unknown model 'custom'"),
    (["summary", "resnet50", "--layers", "0", "1", "1", "1"], "blocks in layer1 must be at least 1, got 0"),
    (["summary", "resnet50", "--layers", "1", "x", "1", "1"], "argument --layers: invalid int value: 'x'"),
    (["summary", "resnet18", "--groups", "32"], "groups must be 1 and width_per_group 64"),
    (["summary", "resnet50", "--input-size", "8"], "input size must be at least 32 px"),
    (["summary", "resnet50", "--input-size", "2000"],
     "input size 2000 px is over the 1024 px limit (raise it with RESNET_EXPLORER_MAX_INPUT_SIZE"),
    (["summary", "bottleneck:201-1-1-1"], "layer1 has 201 blocks, over the limit of 200 per stage (raise it with "
                                         "RESNET_EXPLORER_MAX_BLOCKS_PER_STAGE"),
    (["summary", "resnet50", "--weights", "/nonexistent.pth"], "no such checkpoint file: nonexistent.pth"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["summary", "resnet50", "--frobnicate"], "unrecognized arguments: --frobnicate (see python -m explorer --help)"),
    ([], "choose a command: summary, explain, analyze, export, compare, features, cam, weights, dataset, visualize, app, open (see python -m explorer --help)"),
])
def test_bad_arguments_exit_nonzero_with_one_line(args: list[str], message: str) -> None:
    r = run(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr


def test_explorer_does_not_import_gradio() -> None:
    code = "import sys, explorer, explorer.cli; print('gradio' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False"


CAT = str(ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg")


def test_features_table_predictions_files_and_json(tmp_path: Path) -> None:
    from PIL import Image

    from explorer.features.store import FeatureStore

    torch.manual_seed(5)
    ckpt = tmp_path / "resnet18-f37072fd.pth"  # torchvision's file name: V1 preprocessing
    torch.save(build(get_preset("resnet18")).state_dict(), ckpt)
    out = tmp_path / "views"
    r = run("features", "resnet18", CAT, "--weights", str(ckpt), "--out", str(out), "--view", "layer3.1", "--k", "9",
            "--channel", "5")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("resnet18 on cpu · weights: resnet18-f37072fd.pth (torchvision IMAGENET1K_V1, ImageNet "
                        "top-1 69.8%); preprocessing: resize 256, centre crop 224")
    assert sum(1 for ln in lines if ln.startswith("layer")) == 8
    assert any(ln.startswith("layer2.0 (proj)  128×28×28") for ln in lines)
    top = lines[lines.index("top-5:") + 1:lines.index("top-5:") + 6]
    assert len(top) == 5 and all(ln.strip()[0].isdigit() and "%" in ln for ln in top)
    assert Image.open(out / "crop.png").size == (224, 224)
    assert Image.open(out / "layer3.1_top9.png").size == (3 * 96 + 2 * 4,) * 2
    assert Image.open(out / "layer3.1_overlay.png").size == (224, 224)
    plots = (out / "layer3.1_plots.html").read_text()
    assert "layer3.1, channel 5: range" in plots and "activations across the network" in plots
    assert "<script src=" not in plots and 1_000_000 < len(plots) < 6_000_000  # plotly.js inlined once: offline
    assert f"wrote {out / 'layer3.1_plots.html'}" in lines

    # JSON: the numbers are the library's own capture of the same image and weights
    d = json.loads(run("features", "resnet18", CAT, "--weights", str(ckpt), "--json").stdout)
    _, cap, _ = FeatureStore().run_image(get_preset("resnet18"), CAT, "file", str(ckpt))
    assert [b["name"] for b in d["blocks"]] == [b.name for b in cap.blocks]
    for got, want in zip(d["blocks"], cap.blocks):
        assert got["zero_fraction"] == pytest.approx(want.zero_fraction)
        assert got["residual_ratio"] == pytest.approx(want.residual_ratio, rel=1e-5)
        assert got["shape"] == list(cap.maps[want.name].shape)
    assert len(d["top5"]) == 5 and d["written"] == []


@pytest.mark.parametrize("extra, message", [
    (["--view", "layer9.9"], "--view: no block 'layer9.9' in resnet18"),
    (["--channel", "999"], "channel must be from 0 to 127 for layer2.0"),
    (["--k", "0"], "--k must be at least 1"),
    (["--weights", "/nonexistent.pth"], "--weights: no such file /nonexistent.pth"),
    (["--device", "tpu"], "device must be auto, cpu, cuda, mps (or cuda:N), got 'tpu'"),
])
def test_features_bad_arguments(extra: list[str], message: str, tmp_path: Path) -> None:
    r = run("features", "resnet18", CAT, "--out", str(tmp_path), *extra)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr


@pytest.mark.parametrize("content, message", [
    (None, "image: no such file"),
    (b"this is text, not an image", "not an image we can read"),
    (b"", "the file is empty"),
])
def test_features_bad_images(content: bytes | None, message: str, tmp_path: Path) -> None:
    image = tmp_path / "input.png"
    if content is not None:
        image.write_bytes(content)
    r = run("features", "resnet18", str(image))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


def test_limits_from_the_environment() -> None:
    import os

    env = {**os.environ, "RESNET_EXPLORER_MAX_INPUT_SIZE": "2048"}
    r = subprocess.run([sys.executable, "-m", "explorer", "summary", "resnet18", "--input-size", "1500"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and "at input 3×1500×1500" in r.stdout
    env["RESNET_EXPLORER_MAX_INPUT_SIZE"] = "abc"
    r = subprocess.run([sys.executable, "-m", "explorer", "summary", "resnet18"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 2 and r.stderr == "error: RESNET_EXPLORER_MAX_INPUT_SIZE must be a number, got 'abc'\n"


def test_installed_command_works_from_any_folder(tmp_path: Path) -> None:
    """`pip install -e .` (the set-up does it) gives `resnet-explorer` and importable packages anywhere."""
    command = Path(sys.executable).parent / "resnet-explorer"
    r = subprocess.run([str(command), "summary", "resnet18"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "11,689,512 params" in r.stdout.splitlines()[-1], r.stderr
    r = subprocess.run([sys.executable, "-c", "import explorer, resnet; print(explorer.trace.__module__)"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "explorer.tracing.tracer", r.stderr
