"""Bad input through the real endpoints: each gets a correct result or a clear, specific error, and the
server keeps serving. The corpus is generated here, nothing is downloaded."""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from gradio_client import handle_file
from PIL import Image

from badfiles import Exploit, encode, noise, png_bomb
from resnet import build, get_preset

ROOT = Path(__file__).resolve().parent.parent
SPEC = "resnet18"


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(Image.new("RGB", (80, 40), (0, 128, 0)), "JPEG", exif=exif.tobytes())


def _animated_gif() -> bytes:
    frames = [Image.new("P", (40, 40), i) for i in range(3)]
    for f in frames:
        f.putpalette(list(range(256)) * 3)
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def _palette_transparent() -> bytes:
    p = Image.new("P", (64, 64), 1)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    return encode(p, "PNG", transparency=1)


# name, file name, content, expected: None (works) or a fragment of the error
IMAGE_CORPUS = [
    ("zero-byte", "empty.png", b"", "the file is empty"),
    ("text renamed .png", "notes.png", b"hello, I am text", "not an image we can read"),
    ("truncated PNG", "cut.png", encode(noise(), "PNG")[:5000], "damaged or truncated"),
    ("truncated JPEG", "cut.jpg", encode(noise(), "JPEG")[:3000], "damaged or truncated"),
    ("decompression bomb", "bomb.png", png_bomb(200_000, 200_000), "too many pixels"),
    ("over the pixel limit", "huge.png", png_bomb(9_000, 6_000), "over the 40 MP limit"),
    ("1×1", "dot.png", encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), None),
    ("very large (12 MP)", "big.jpg", encode(Image.new("RGB", (4000, 3000), (50, 90, 200)), "JPEG"), None),
    ("16-bit", "deep.png", encode(Image.fromarray(np.arange(4096, dtype=np.uint16).reshape(64, 64) * 16), "PNG"),
     None),
    ("CMYK", "print.jpg", encode(Image.new("CMYK", (64, 64), (0, 200, 200, 0)), "JPEG"), None),
    ("palette with transparency", "pal.png", _palette_transparent(), None),
    ("animated GIF", "anim.gif", _animated_gif(), None),
    ("EXIF-rotated JPEG", "rotated.jpg", _exif_rotated(), None),
    ("SVG named .png", "vector.png", b"<svg xmlns='http://www.w3.org/2000/svg' width='9' height='9'/>",
     "not an image we can read"),
    ("HTML named .jpg", "page.jpg", b"<!doctype html><script>alert(1)</script>", "not an image we can read"),
    ("PNG named .jpg", "misnamed.jpg", encode(Image.new("RGB", (50, 50), (1, 2, 3)), "PNG"), None),
    ("SVG", "drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "Invalid file type"),
]


def run_features(client, image=None, weights="random", checkpoint=None):
    return client.predict(SPEC, handle_file(str(image)) if image else None, "cat", weights,
                          handle_file(str(checkpoint)) if checkpoint else None, "cpu", "", 16, api_name="/features")


@pytest.mark.parametrize("label, name, content, expected", IMAGE_CORPUS, ids=[c[0] for c in IMAGE_CORPUS])
def test_image_corpus(client, tmp_path: Path, label: str, name: str, content: bytes, expected: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    if expected is None:
        notice, crop, *_ = run_features(client, path)
        assert Image.open(crop).size == (224, 224), label
    else:
        with pytest.raises(Exception, match=expected):
            run_features(client, path)
    notice, *_ = run_features(client)  # still serving
    assert "Ran on" in notice


MARKER = Path("/tmp") / f"resnet-explorer-pwned-{os.getpid()}"


def _ckpt(tmp_path: Path, name: str, state) -> Path:
    path = tmp_path / name
    torch.save(state, path)
    return path


def test_checkpoint_corpus(client, tmp_path: Path) -> None:
    good = build(get_preset("resnet18")).state_dict()
    missing = dict(good)
    del missing["layer3.1.bn2.running_var"]
    extra = {**good, "classifier.weight": torch.zeros(2)}
    shapes = {**good, "fc.weight": torch.zeros(10, 512), "fc.bias": torch.zeros(10)}
    MARKER.unlink(missing_ok=True)
    evil = tmp_path / "evil.pth"
    torch.save({"conv1.weight": Exploit(MARKER)}, evil, pickle_module=pickle)
    corpus = [
        (tmp_path / "notes.pth", "not a PyTorch \\(.pth\\) or safetensors checkpoint"),
        (evil, "could run code"),
        (_ckpt(tmp_path, "r50.pth", build(get_preset("resnet50"), init_weights=False).state_dict()),
         "checkpoint does not fit this model: 198 unexpected: .*mis-shaped"),
        (_ckpt(tmp_path, "shapes.pth", shapes), r"2 mis-shaped: fc.weight \(checkpoint \(10, 512\), model \(1000, 512\)\)"),
        (_ckpt(tmp_path, "missing.pth", missing), "1 missing: layer3.1.bn2.running_var"),
        (_ckpt(tmp_path, "extra.pth", extra), "1 unexpected: classifier.weight"),
    ]
    (tmp_path / "notes.pth").write_bytes(b"just text")
    for path, message in corpus:
        with pytest.raises(Exception, match=message):
            run_features(client, weights="file", checkpoint=path)
    assert not MARKER.exists(), "the pickle ran code"
    notice, *_, preds = run_features(client, weights="file", checkpoint=_ckpt(tmp_path, "ok.pth", good))
    assert len(preds["confidences"]) == 5


def test_limits_are_the_configured_ones(client, tmp_path: Path) -> None:
    """The app enforces the limits it was configured with (flags and env vars at start-up), not module globals."""
    from resnet_explorer.context import APP
    from resnet_explorer.settings import AppSettings
    from explorer.limits import Limits

    before = APP.settings
    path = _ckpt(tmp_path, "big.pth", build(get_preset("resnet18"), init_weights=False).state_dict())
    image = tmp_path / "wide.png"
    image.write_bytes(encode(Image.new("RGB", (1200, 1000), (5, 5, 5)), "PNG"))
    APP.configure(AppSettings(limits=Limits(max_checkpoint_mb=0.001, max_image_mp=1.1, max_blocks_per_stage=8,
                                                max_input_size=256)))
    try:
        with pytest.raises(Exception, match="over the 0 MiB limit"):
            run_features(client, weights="file", checkpoint=path)
        with pytest.raises(Exception, match="the image is 1200×1000 = 1.2 MP, over the 1.1 MP limit"):
            run_features(client, image)
        with pytest.raises(Exception, match="layer3 has 36 blocks, over the limit of 8 per stage"):
            client.predict("resnet152", 224, api_name="/summarize")
        with pytest.raises(Exception, match="input size 300 px is over the 256 px limit"):
            client.predict("resnet18", 300, api_name="/summarize")
    finally:
        APP.configure(before)
    notice, crop, *_ = run_features(client, image)  # the defaults again
    assert Image.open(crop).size == (224, 224)


@pytest.mark.parametrize("spec, size, message", [
    ("bottleneck:0-4-6-3", 224, "blocks in layer1 must be at least 1, got 0"),
    ("bottleneck:-3-4-6-3", 224, "four numbers like 3-4-6-3"),
    ("bottleneck:2.5-4-6-3", 224, "four numbers like 3-4-6-3"),
    ("bottleneck:1000000-4-6-3", 224, "layer1 has 1000000 blocks, over the limit of 200 per stage"),
    ("basic:3-4-6-3:32x4d", 224, "groups must be 1 and width_per_group 64"),
    ("basic:3-4-6-3:1x96d", 224, "groups must be 1 and width_per_group 64"),
    ("resnet18", 8, "less than minimum value 32"),
    ("resnet18", 5000, "greater than maximum value 1024"),
    ("resnet18", 100.5, "input size must be a whole number of pixels, got 100.5"),
    ("resnet1000", 224, "unknown model 'resnet1000'"),
    ("", 224, "a model spec is a preset"),
    (None, 224, "a model spec is a preset"),
    ("resnet18:" + "x" * 5000, 224, "a model spec is at most 200 characters, got 5,009"),
    # user text in a toast is HTML-escaped: the page shows it as text (#22)
    ("<script>alert(1)</script>", 224, "unknown model '&lt;script&gt;alert(1)&lt;/script&gt;'"),
])
def test_spec_corpus(client, spec, size, message: str) -> None:
    for endpoint in ("/summarize", "/structure"):
        with pytest.raises(Exception, match=re.escape(message)):
            client.predict(spec, size, api_name=endpoint)
    totals, *_ = client.predict(SPEC, 224, api_name="/summarize")
    assert "**8 blocks**" in totals


def test_upload_names_with_path_separators_stay_in_the_upload_folder(app_url: str, client, tmp_path: Path) -> None:
    png = encode(Image.new("RGB", (40, 40), (5, 5, 5)), "PNG")
    for name in ("../../../../tmp/escape.png", "..\\..\\escape.png", "a/../../b.png"):
        r = httpx.post(f"{app_url}gradio_api/upload", files={"files": (name, png, "image/png")}, timeout=30)
        assert r.status_code == 200
        stored = Path(r.json()[0])
        assert ".." not in stored.parts and stored.name.endswith(".png")
        assert str(stored.resolve()).startswith(os.environ["GRADIO_TEMP_DIR"])
    assert not Path("/tmp/escape.png").exists()


def test_server_paths_cannot_be_read_through_the_api(app_url: str, client) -> None:
    """A client may not name a server file (outside the upload folder) as its 'upload'."""
    payload = {"data": [SPEC, {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, "cat", "random",
                        None, "cpu", "", 16]}
    r = httpx.post(f"{app_url}gradio_api/call/features", json=payload, timeout=30)
    if r.status_code == 200:
        event = r.json()["event_id"]
        body = httpx.get(f"{app_url}gradio_api/call/features/{event}", timeout=60).text
        assert "root:" not in body and "error" in body.lower()
    else:
        assert r.status_code in (400, 403, 422)
    notice, *_ = run_features(client)
    assert "Ran on" in notice


def test_export_names_are_chosen_by_the_server(client) -> None:
    paths = [Path(client.predict(SPEC, 224, "blocks", "TB", False, 96, api_name="/export_csv")) for _ in range(2)]
    assert [p.name for p in paths] == ["resnet18_blocks.csv"] * 2
