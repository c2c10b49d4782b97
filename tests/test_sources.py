"""Models from files (#21): ONNX graphs and ``torch.export`` programs exported here from torchvision models, and a
Hugging Face folder written by ``save_pretrained``, through the library, the CLI and the feature store: their
blocks, their own weights (the logits equal the original model's), and the refusals of files that could run
code or read other files."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from explorer.features.store import FeatureStore
from explorer.models import parse_model
from explorer.sources import SourceError, open_model_file
from explorer.tracing import structure_trace, trace

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg"
LIMIT = 512 * 2**20


@pytest.fixture(scope="module")
def resnet18() -> torch.nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory, resnet18: torch.nn.Module) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "resnet18.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(resnet18, (torch.randn(1, 3, 224, 224),), str(path), dynamo=False, opset_version=17)
    return path


@pytest.fixture(scope="module")
def pt2_file(tmp_path_factory: pytest.TempPathFactory, resnet18: torch.nn.Module) -> Path:
    path = tmp_path_factory.mktemp("pt2") / "resnet18.pt2"
    torch.export.save(torch.export.export(resnet18, (torch.randn(1, 3, 224, 224),)), str(path))
    return path


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    model = ResNetForImageClassification(ResNetConfig(depths=[1, 1, 2, 1], layer_type="basic", hidden_sizes=[64, 128,
                                                      256, 512], num_labels=3,
                                                      id2label={0: "cat", 1: "dog", 2: "bird"},
                                                      label2id={"cat": 0, "dog": 1, "bird": 2})).eval()
    folder = tmp_path_factory.mktemp("hf") / "my-resnet"
    model.save_pretrained(folder, safe_serialization=True)
    return folder, model


def _logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(x)
    return out.logits if hasattr(out, "logits") else out


def test_an_onnx_file_opens_with_its_blocks_named_after_its_nodes(onnx_file: Path, resnet18) -> None:
    import onnx

    model = open_model_file(onnx_file, LIMIT)
    assert model.spec.startswith("onnx:resnet18.onnx@") and str(onnx_file.parent) not in model.spec
    adds = [n.name for n in onnx.load(str(onnx_file)).graph.node if n.op_type == "Add"]
    t = structure_trace(parse_model(model.spec))
    assert len(t.blocks) == len(adds) == 8
    assert [b.name for b in t.blocks] == [a.strip("/").replace(".", "/").removesuffix("/Add") for a in adds]
    assert [b.stage for b in t.blocks if b.downsample] == [2, 3, 4]
    assert [tuple(b.out_shape) for b in t.blocks][-1] == (512, 7, 7) and t.output_shape == (10,)
    module = model.build()
    assert t.total_params == sum(p.numel() for p in module.parameters())
    x = torch.randn(1, 3, 224, 224)
    assert torch.allclose(_logits(module, x), _logits(resnet18, x), atol=1e-4)  # its trained weights


def test_a_pt2_program_keeps_its_module_names_and_weights(pt2_file: Path, resnet18) -> None:
    model = open_model_file(pt2_file, LIMIT)
    t = trace(model.build())  # exported at 224 px: its shapes are fixed
    assert [b.name for b in t.blocks] == [f"layer{s}.{i}" for s in range(1, 5) for i in range(2)]
    assert [b.name for b in t.blocks if b.downsample] == ["layer2.0", "layer3.0", "layer4.0"]
    assert t.total_macs == trace(resnet18).total_macs  # MACs from the ops, whatever the modules
    x = torch.randn(1, 3, 224, 224)
    assert torch.allclose(_logits(model.build(), x), _logits(resnet18, x), atol=1e-5)


def test_a_hugging_face_folder_and_its_zip(hf_folder, tmp_path: Path) -> None:
    folder, original = hf_folder
    model = open_model_file(folder, LIMIT)
    t = structure_trace(parse_model(model.spec))
    assert [b.name for b in t.blocks] == ["encoder.stages.0.layers.0", "encoder.stages.1.layers.0",
                                          "encoder.stages.2.layers.0", "encoder.stages.2.layers.1",
                                          "encoder.stages.3.layers.0"]
    assert t.block("encoder.stages.0.layers.0").block_type == "ResNetBasicLayer"
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(_logits(model.build(), x), _logits(original, x), atol=1e-5)
    archive = tmp_path / "my-resnet.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.iterdir():
            z.write(f, f"my-resnet/{f.name}")
    zipped = open_model_file(archive, LIMIT, display_name="my-resnet.zip")
    assert zipped.digest == model.digest  # the same files: the same model
    store = FeatureStore()
    _, cap, loaded = store.run_image(zipped, CAT)
    assert loaded.trained and "its own weights" in loaded.weights_label and len(cap.logits) == 3


def test_the_feature_maps_run_a_files_own_weights(onnx_file: Path, resnet18) -> None:
    model = open_model_file(onnx_file, LIMIT)
    store = FeatureStore()
    _, cap, loaded = store.run_image(model, CAT, "random")  # the choice of weights cannot replace the file's own
    _, ref, _ = store.run_image(parse_model("resnet18:c10"), CAT, "random")
    crop = loaded.preprocess.to_tensor(cap.crop)
    assert np.allclose(cap.logits, _logits(resnet18, crop)[0].numpy(), atol=1e-3)
    assert cap.model_name == model.spec and len(cap.blocks) == 8
    run, _ = store.cam(store.keep(cap))
    assert run.cam(run.blocks[-1]).shape == (7, 7)


def test_files_that_could_run_code_or_read_elsewhere_are_refused(tmp_path: Path, pt2_file: Path, onnx_file: Path,
                                                                 hf_folder) -> None:
    import onnx

    bad = tmp_path / "evil.pt2"
    with zipfile.ZipFile(pt2_file) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("_weights_config.json"):
                config = json.loads(data)
                name = next(iter(config["config"]))
                config["config"][name]["use_pickle"] = True
                config["config"][name]["path_name"] = "evil_0"
                data = json.dumps(config).encode()
                folder = info.filename.rsplit("/", 1)[0]
                import io
                import pickle

                buffer = io.BytesIO()
                pickle.dump(subprocess.Popen, buffer)  # a global that could run code, where a weight should be
                dst.writestr(f"{folder}/evil_0", buffer.getvalue())
            dst.writestr(info, data)
    with pytest.raises(SourceError, match="holds pickled objects .* refused, since loading them could run code"):
        open_model_file(bad, LIMIT)
    external = tmp_path / "external.onnx"
    graph = onnx.load(str(onnx_file))
    onnx.save_model(graph, str(external), save_as_external_data=True, location="weights.bin")
    with pytest.raises(SourceError, match="keeps tensors in separate files"):
        open_model_file(external, LIMIT)
    folder, _ = hf_folder
    remote = tmp_path / "remote"
    shutil.copytree(folder, remote)
    config = json.loads((remote / "config.json").read_text())
    (remote / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "evil.Model"}}))
    with pytest.raises(SourceError, match="no built-in model type \\(remote code is not run\\)"):
        open_model_file(remote, LIMIT)
    (remote / "model.safetensors").unlink()
    with pytest.raises(SourceError, match="needs model.safetensors"):
        open_model_file(remote, LIMIT)
    with pytest.raises(SourceError, match="over the 0 MiB limit"):
        open_model_file(onnx_file, 1000)
    with pytest.raises(ValueError, match="no onnx file with digest 'ffffffffffff' is open here"):
        parse_model("onnx:x.onnx@ffffffffffff")


def test_the_cli_takes_model_files(onnx_file: Path, pt2_file: Path, hf_folder) -> None:
    folder, _ = hf_folder
    for path, first in ((onnx_file, "layer1/layer1/0"), (pt2_file, "layer1.0"), (folder, "encoder.stages.0.layers.0")):
        r = subprocess.run([sys.executable, "-m", "explorer", "summary", str(path), "--json"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-1500:]
        assert json.loads(r.stdout)["blocks"][0]["name"] == first
    r = subprocess.run([sys.executable, "-m", "explorer", "features", str(onnx_file), str(CAT)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "its own weights" in r.stdout and "top-5:" in r.stdout, r.stderr[-1500:]
    r = subprocess.run([sys.executable, "-m", "explorer", "summary", str(ROOT / "docs")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_the_app_opens_model_files(client, onnx_file: Path, hf_folder) -> None:
    """The checkpoint box takes an ONNX file, the folder box a Hugging Face folder's files; every view then shows
    the model by its spec, the feature maps run its own weights, the inspector shows its block's code."""
    from gradio_client import handle_file

    spec, model, weights = client.predict(handle_file(str(onnx_file)), api_name="/open_checkpoint")
    assert spec == model and spec.startswith("onnx:resnet18.onnx@") and weights == "file"
    assert str(onnx_file.parent) not in spec  # no server path: the spec names the file by its digest
    totals, stages, blocks, _ = client.predict(spec, 224, 1, api_name="/summarize")
    assert f"**{spec}**" in totals and len(blocks["data"]) == 8 and blocks["data"][0][0] == "layer1/layer1/0"
    run = client.predict(spec, None, "cat", "file", None, "cpu", "", 16, None, api_name="/features")
    assert "its own weights" in run[0] and len(run[-1]["confidences"]) == 5
    folder, _ = hf_folder
    files = [handle_file(str(folder / n)) for n in ("config.json", "model.safetensors")]
    spec, *_ = client.predict(files, api_name="/open_folder")
    assert spec.startswith("hf:model_folder@")
    selected, _, facts, code, _ = client.predict(spec, 224, "encoder.stages.1.layers.0", api_name="/select_block")
    assert "transformers.models.resnet" in code and "def forward" in code and "projection shortcut" in facts
    run = client.predict(spec, None, "cat", "file", None, "cpu", "", 16, None, api_name="/features")
    assert {c["label"] for c in run[-1]["confidences"]} == {"cat", "dog", "bird"}  # the folder's own class names
    with pytest.raises(Exception, match="config.json and model.safetensors together"):
        client.predict([files[0]], api_name="/open_folder")
