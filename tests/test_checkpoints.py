"""Checkpoints (#12): the architecture inferred from a state dict alone, what real checkpoint files look like,
the refusals, and a checkpoint through the CLI and the app (it switches every view to the model inside)."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from explorer.models import TimmModel, model_of_checkpoint, open_checkpoint
from resnet import IMAGENET_PRESETS, CheckpointError, build, get_preset, parse_spec, read_state_dict
from resnet.infer import infer_architecture

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg"


@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_every_preset_is_recognised_from_its_tensors(name: str) -> None:
    config = get_preset(name)
    state = build(config, device="meta", init_weights=False).state_dict()
    model, arch = model_of_checkpoint(state)
    assert model == config and arch.plain
    assert infer_architecture(torchvision.models.get_model(name, num_classes=37).to("meta").state_dict()).config \
        == parse_spec(f"{name}:c37")


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory) -> dict[str, Path]:
    """Checkpoint files as people write them."""
    d = tmp_path_factory.mktemp("ckpt")
    r50 = torchvision.models.resnet50(num_classes=10).state_dict()
    files = {
        "plain10": d / "r50_10.pth", "ddp_nested": d / "r18_37_ddp.pth", "safetensors": d / "r34.safetensors",
        "timm_d": d / "resnet50d_5.pth", "timm_se": d / "seresnext26d.safetensors",
    }
    torch.save(r50, files["plain10"])
    r18 = {f"module.{k}": v for k, v in torchvision.models.resnet18(num_classes=37).state_dict().items()}
    torch.save({"epoch": 7, "model_state_dict": r18, "optimizer": {"state": {}, "lr": 0.01}, "best_acc": 0.93},
               files["ddp_nested"])
    save_file(torchvision.models.resnet34().state_dict(), str(files["safetensors"]))
    torch.save({"state_dict": timm.create_model("resnet50d", num_classes=5).state_dict()}, files["timm_d"])
    save_file(timm.create_model("seresnext26d_32x4d", num_classes=3).state_dict(), str(files["timm_se"]))
    return files


@pytest.mark.parametrize("key, spec, description", [
    ("plain10", "resnet50:c10", "Bottleneck 3-4-6-3, 10 classes"),
    ("ddp_nested", "resnet18:c37", "BasicBlock 2-2-2-2, 37 classes"),
    ("safetensors", "resnet34", "BasicBlock 3-4-6-3, 1000 classes"),
    ("timm_d", "timm:resnet50d:c5",
     "Bottleneck 3-4-6-3, 5 classes, deep: 3×3 convs 32-32-64, 2×2 avg pool + 1×1 conv + BN"),
    ("timm_se", "timm:seresnext26d_32x4d:c3",
     "Bottleneck 2-2-2-2, 32x4d, 3 classes, deep: 3×3 convs 32-32-64, 2×2 avg pool + 1×1 conv + BN, SE"),
])
def test_checkpoint_files_open_as_their_model(finetuned, key: str, spec: str, description: str) -> None:
    opened = open_checkpoint(finetuned[key])
    assert opened.model.spec == spec and opened.architecture.description == description
    assert opened.notice == f"from checkpoint {finetuned[key].name}: {description} ({spec})"
    model = opened.model.build() if isinstance(opened.model, TimmModel) else build(opened.model, init_weights=False)
    model.load_state_dict(read_state_dict(finetuned[key]), strict=True)  # the weights fit it exactly


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {Path('/tmp') / 'resnet-explorer-pwned'}",))


def test_refusals_are_one_specific_line(finetuned, tmp_path: Path) -> None:
    good = finetuned["plain10"].read_bytes()
    torch.save(torchvision.models.resnet18(), tmp_path / "whole.pth")
    torch.save(torchvision.models.vgg11().state_dict(), tmp_path / "vgg.pth")
    pickle.dump(_RunsCode(), (tmp_path / "evil.pth").open("wb"), protocol=4)
    cases = {
        _write(tmp_path / "half.pth", good[: len(good) // 2]): "the file is truncated or corrupt",
        _write(tmp_path / "noise.pth", os.urandom(4096)): "not a PyTorch (.pth) or safetensors checkpoint",
        tmp_path / "vgg.pth": "not a ResNet-family state dict: expected layer1…layer4 of blocks with conv1/conv2",
        tmp_path / "whole.pth": "it is a whole pickled object (torchvision.models.resnet.ResNet), refused because "
                                "loading it could run code; save the weights instead: torch.save(model.state_dict()",
        tmp_path / "evil.pth": "it holds Python objects other than tensors",
    }
    for path, message in cases.items():
        with pytest.raises(CheckpointError) as err:
            open_checkpoint(path)
        assert message in str(err.value) and "\n" not in str(err.value), (path.name, str(err.value))
    assert not (Path("/tmp") / "resnet-explorer-pwned").exists()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)


def test_cli_takes_a_checkpoint_everywhere(finetuned, tmp_path: Path) -> None:
    r = _cli("summary", str(finetuned["plain10"]))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("from checkpoint r50_10.pth: Bottleneck 3-4-6-3, 10 classes (resnet50:c10)")
    labels = _write(tmp_path / "labels.txt", "\n".join(f"kind {i}" for i in range(10)).encode())
    r = _cli("features", str(finetuned["plain10"]), str(CAT), "--labels", str(labels))
    assert r.returncode == 0, r.stderr
    assert "weights: r50_10.pth" in r.stdout and "top-5:" in r.stdout and "kind " in r.stdout
    r = _cli("export", str(finetuned["timm_d"]), "--level", "layers", "-o", str(tmp_path / "d.dot"))
    assert r.returncode == 0, r.stderr
    assert "2×2 avgpool s2 + 1×1 conv s1 + BN" in (tmp_path / "d.dot").read_text()
    r = _cli("compare", str(finetuned["plain10"]), str(finetuned["timm_d"]))
    assert r.returncode == 0 and r.stdout.startswith("A = resnet50:c10, B = timm:resnet50d:c5"), r.stderr
    r = _cli("summary", str(tmp_path / "labels.txt"))
    assert r.returncode == 2 and "cannot use this checkpoint" in r.stderr


def test_app_checkpoint_switches_every_view(client, finetuned, tmp_path: Path) -> None:
    from gradio_client import handle_file

    spec, applied, weights = client.predict(handle_file(str(finetuned["timm_d"])), api_name="/open_checkpoint")
    assert spec == applied == "timm:resnet50d:c5" and weights == "file"
    totals, stages, blocks, memory = client.predict(spec, 224, api_name="/summarize")
    assert "**timm:resnet50d:c5**" in totals and "output 5" in totals
    row = next(r for r in blocks["data"] if r[0] == "layer2.0")
    assert row[5].startswith("2×2 avgpool s2 + 1×1 conv s1 + BN")  # ResNet-D's shortcut
    assert len(client.predict(spec, 224, api_name="/structure")) == 6
    assert "layer2.0.downsample" in client.predict(spec, 224, "layers", "TB", False, api_name="/graph")
    md, *_ = client.predict(spec, 224, "resnet50", api_name="/compare")
    assert md
    labels = _write(tmp_path / "l.txt", b"\n".join(b"class %c" % c for c in b"abcde"))
    result = client.predict(spec, None, "cat", "file", handle_file(str(finetuned["timm_d"])), "cpu", "", 16,
                            handle_file(str(labels)), api_name="/features")
    assert "weights: resnet50d_5.pth" in result[0]
    assert {c["label"] for c in result[-1]["confidences"]} == {f"class {c}" for c in "abcde"}
    with pytest.raises(Exception, match="not a ResNet-family state dict"):
        torch.save(torchvision.models.vgg11().state_dict(), tmp_path / "vgg.pth")
        client.predict(handle_file(str(tmp_path / "vgg.pth")), api_name="/open_checkpoint")
    assert client.predict("resnet18", 224, api_name="/summarize")[0]  # still serving


def test_inferring_resnet152_is_fast() -> None:
    state = torchvision.models.resnet152().state_dict()
    start = time.perf_counter()
    model, _ = model_of_checkpoint(state)
    assert model == get_preset("resnet152") and time.perf_counter() - start < 5  # benchmarks/ has the real figure


HIDDEN = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('timm', 'torchvision'):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
sys.meta_path.insert(0, Hide())
"""


def test_app_cli_and_library_work_without_torchvision_and_timm(finetuned) -> None:
    script = HIDDEN + f"""
import explorer
from resnet_explorer.handlers.structure import summarize
from resnet_explorer.page import build_demo
from explorer.models import open_checkpoint, parse_model
from resnet import get_preset
build_demo()
print(summarize("resnet50", 224)[0].splitlines()[0])
print(open_checkpoint({str(finetuned['plain10'])!r}).model.spec)
for bad in ("timm:resnet50d", {str(finetuned['timm_d'])!r}):
    try:
        open_checkpoint(bad) if bad.endswith('.pth') else parse_model(bad)
    except ValueError as exc:
        print(exc)
from explorer.cli import main
sys.exit(main(["summary", "resnet18"]))
"""
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith("**resnet50**") and lines[1] == "resnet50:c10"
    assert lines[2] == "timm is not installed (pip install timm): it is needed for timm's architectures"
    assert lines[3].startswith("this checkpoint is a Bottleneck 3-4-6-3, 5 classes, deep") and "timm is not installed" in lines[3]
    assert "total: 8 blocks" in r.stdout
