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
    assert sum(1 for ln in lines if ln.startswith("layer")) == 16
    assert any(ln.startswith("layer2.0") and "1×1 conv s2 + BN: 256×56×56 → 512×28×28" in ln for ln in lines)
    assert "25,557,032 params" in lines[-1] and "4,089,238,376 MACs" in lines[-1]


def test_summary_json_custom() -> None:
    r = run("summary", "custom", "--block", "basic", "--layers", "1", "2", "3", "1", "--json", "--input-size", "64")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [b["name"] for b in d["blocks"]] == ["layer1.0", "layer2.0", "layer2.1", "layer3.0", "layer3.1",
                                                "layer3.2", "layer4.0"]
    assert d["input_shape"] == [3, 64, 64]
    assert d["model_name"] == "custom_basic_1-2-3-1"


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
    (["summary", "resnet51"], "unknown preset 'resnet51'"),
    (["summary", "custom", "--layers", "0", "1", "1", "1"], "blocks in layer1) must be from 1 to 64, got 0"),
    (["summary", "custom", "--layers", "1", "x", "1", "1"], "argument --layers: invalid int value: 'x'"),
    (["summary", "custom", "--block", "basic", "--groups", "32"], "groups must be 1 and width_per_group 64"),
    (["summary", "resnet50", "--input-size", "8"], "input size must be from 32 to 1024 px"),
    (["summary", "resnet50", "--weights", "/nonexistent.pth"], "checkpoint not found"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "required: command"),
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
