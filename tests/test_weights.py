"""Checkpoint loading: round trips, safe loading, clear mismatch errors, hub cache lookup, preprocessing."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from resnet import CheckpointError, Preprocess, build, find_cached, get_preset, load_weights, read_state_dict
from badfiles import Exploit
from resnet.presets import PRESETS
from resnet.weights import download_weights, weights_for
from synthetic_weights import synthetic_image


@pytest.fixture(scope="module")
def r18() -> torch.nn.Module:
    torch.manual_seed(0)
    return build(get_preset("resnet18")).eval()


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_pth_round_trip(tmp_path: Path, r18: torch.nn.Module) -> None:
    path = tmp_path / "r18.pth"
    torch.save(r18.state_dict(), path)
    fresh = build(get_preset("resnet18"))
    assert not _same_outputs(r18, fresh)
    load_weights(fresh, path)
    assert _same_outputs(r18, fresh)


def test_safetensors_round_trip(tmp_path: Path, r18: torch.nn.Module) -> None:
    path = tmp_path / "r18.safetensors"
    save_file({k: v.contiguous() for k, v in r18.state_dict().items()}, str(path))
    fresh = load_weights(build(get_preset("resnet18")), path)
    assert _same_outputs(r18, fresh)


def test_wrapped_and_dataparallel_checkpoints(tmp_path: Path, r18: torch.nn.Module) -> None:
    path = tmp_path / "train.pth"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in r18.state_dict().items()}}, path)
    assert _same_outputs(r18, load_weights(build(get_preset("resnet18")), path))


def test_mismatch_names_missing_unexpected_and_misshaped(tmp_path: Path, r18: torch.nn.Module) -> None:
    state = dict(r18.state_dict())
    del state["layer1.0.conv1.weight"]
    state["extra.weight"] = torch.zeros(3)
    state["fc.weight"] = torch.zeros(10, 512)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    target = build(get_preset("resnet18"))
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError) as err:
        load_weights(target, path)
    msg = str(err.value)
    assert "1 missing: layer1.0.conv1.weight" in msg
    assert "1 unexpected: extra.weight" in msg
    assert "fc.weight (checkpoint (10, 512), model (1000, 512))" in msg
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())  # untouched


def test_wrong_architecture_is_refused(tmp_path: Path, r18: torch.nn.Module) -> None:
    path = tmp_path / "r18.pth"
    torch.save(r18.state_dict(), path)
    with pytest.raises(CheckpointError, match="does not fit this model: .* missing: .*conv3"):
        load_weights(build(get_preset("resnet50"), init_weights=False), path)


def test_pickle_that_runs_code_is_refused_without_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": Exploit(tmp_path / "PWNED_MARKER")}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="could run code"):
        read_state_dict(path)
    assert not (tmp_path / "PWNED_MARKER").exists()


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"this is not a checkpoint", "not a PyTorch \\(.pth\\) or safetensors checkpoint"),
])
def test_garbage_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        read_state_dict(path)


def test_size_limit_and_non_tensor_entries(tmp_path: Path) -> None:
    path = tmp_path / "big.pth"
    torch.save({"w": torch.zeros(1000)}, path)
    with pytest.raises(CheckpointError, match="over the 0 MiB limit"):
        read_state_dict(path, max_bytes=100)
    torch.save({"w": 3}, path)
    with pytest.raises(CheckpointError, match="'w' is not a tensor"):
        read_state_dict(path)
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointError, match="no state dict"):
        read_state_dict(path)


def test_hub_cache_is_found_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             r18: torch.nn.Module) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert find_cached("resnet18") is None
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(r18.state_dict(), folder / "resnet18-f37072fd.pth")
    found = find_cached("resnet18")
    assert found is not None and found[0].name == "resnet18-f37072fd.pth"
    assert found[1].resize_size == 256
    assert _same_outputs(r18, load_weights(build(get_preset("resnet18")), found[0]))


def test_v2_weights_preferred_and_carry_their_transforms() -> None:
    best = weights_for("resnet50")[0]
    assert (best.tag, best.resize_size, best.crop_size) == ("IMAGENET1K_V2", 232, 224)
    assert best.transforms == Preprocess(232, 224) and weights_for("resnet50")[1].transforms == Preprocess(256, 224)
    assert best.url.endswith("/resnet50-11ad3fa6.pth")
    assert best.description == "torchvision IMAGENET1K_V2, ImageNet top-1 80.9%"


def test_recipes_order_by_number_not_text() -> None:
    from dataclasses import replace

    from resnet.presets import Preset

    v1 = weights_for("resnet50")[1]
    v10 = replace(v1, tag="IMAGENET1K_V10", filename="resnet50-future.pth")
    preset = PRESETS["resnet50"]
    assert Preset(preset.name, preset.title, preset.config, (*preset.weights, v10)).best_weights() is v10
    assert sorted(["IMAGENET1K_V10", "IMAGENET1K_V2"])[0] == "IMAGENET1K_V10"  # as text, V10 would sort first


def test_explicit_download_uses_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, r18: torch.nn.Module) -> None:
    # A file:// URL exercises the real download code without the internet; the file's name carries the first
    # digits of its SHA-256, as torchvision's do, so the download verifies.
    import dataclasses
    import hashlib

    src = tmp_path / "src"
    src.mkdir()
    torch.save(r18.state_dict(), src / "r18.pth")
    name = f"resnet18-{hashlib.sha256((src / 'r18.pth').read_bytes()).hexdigest()[:8]}.pth"
    (src / "r18.pth").rename(src / name)
    preset = PRESETS["resnet18"]
    monkeypatch.setitem(PRESETS, "resnet18", dataclasses.replace(
        preset, weights=(dataclasses.replace(preset.weights[0], filename=name),)))
    monkeypatch.setattr("resnet.presets.DOWNLOAD_ROOT", src.as_uri() + "/")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    path = download_weights("resnet18", progress=False)
    assert path == tmp_path / "home" / "hub" / "checkpoints" / name
    assert find_cached("resnet18") is not None


@pytest.mark.parametrize("index", range(8))
def test_preprocessing_equals_torchvision(index: int, reference: dict) -> None:
    ref = reference["preprocess"][index]
    w, h = ref["size"]
    t = Preprocess(resize_size=ref["resize"])(synthetic_image(w, h))[0]
    assert list(t.shape) == ref["shape"]
    diff = (t[:, ::16, ::16].flatten() - torch.tensor(ref["samples"])).abs()
    # Pillow releases may round a resampled pixel differently by one grey level (1/255/std ~ 0.0175).
    one_level = 1 / 255 / min(0.229, 0.224, 0.225)
    assert diff.max().item() <= one_level + 1e-4
    assert (diff > 1e-4).float().mean().item() <= 0.01
    assert abs(t.sum().item() - ref["sum"]) < 1.0


def test_crop_is_what_the_network_sees() -> None:
    img = synthetic_image(640, 480)
    crop = Preprocess(232).crop(img)
    assert crop.size == (224, 224)
    assert crop.mode == "RGB"
