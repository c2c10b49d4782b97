"""Bad input through the real endpoints: each gets a correct result or a clear, specific error, and the
server keeps serving. The corpus is generated here, nothing is downloaded."""
from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from gradio_client import handle_file
from PIL import Image

from resnet import build, get_preset

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ["Preset", "resnet18", "bottleneck", 3, 4, 6, 3, 64, 1, "v1.5", 224]


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


def _noise(size=(300, 300)) -> Image.Image:
    return Image.effect_noise(size, 60).convert("RGB")


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(Image.new("RGB", (80, 40), (0, 128, 0)), "JPEG", exif=exif.tobytes())


def _animated_gif() -> bytes:
    frames = [Image.new("P", (40, 40), i) for i in range(3)]
    for f in frames:
        f.putpalette(list(range(256)) * 3)
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def _palette_transparent() -> bytes:
    p = Image.new("P", (64, 64), 1)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    return _encode(p, "PNG", transparency=1)


# name, file name, content, expected: None (works) or a fragment of the error
IMAGE_CORPUS = [
    ("zero-byte", "empty.png", b"", "the file is empty"),
    ("text renamed .png", "notes.png", b"hello, I am text", "not an image we can read"),
    ("truncated PNG", "cut.png", _encode(_noise(), "PNG")[:5000], "damaged or truncated"),
    ("truncated JPEG", "cut.jpg", _encode(_noise(), "JPEG")[:3000], "damaged or truncated"),
    ("decompression bomb", "bomb.png", _png_bomb(200_000, 200_000), "too many pixels"),
    ("over the pixel limit", "huge.png", _png_bomb(9_000, 6_000), "over the 40 MP limit"),
    ("1×1", "dot.png", _encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), None),
    ("very large (12 MP)", "big.jpg", _encode(Image.new("RGB", (4000, 3000), (50, 90, 200)), "JPEG"), None),
    ("16-bit", "deep.png", _encode(Image.fromarray(np.arange(4096, dtype=np.uint16).reshape(64, 64) * 16), "PNG"),
     None),
    ("CMYK", "print.jpg", _encode(Image.new("CMYK", (64, 64), (0, 200, 200, 0)), "JPEG"), None),
    ("palette with transparency", "pal.png", _palette_transparent(), None),
    ("animated GIF", "anim.gif", _animated_gif(), None),
    ("EXIF-rotated JPEG", "rotated.jpg", _exif_rotated(), None),
    ("SVG named .png", "vector.png", b"<svg xmlns='http://www.w3.org/2000/svg' width='9' height='9'/>",
     "not an image we can read"),
    ("HTML named .jpg", "page.jpg", b"<!doctype html><script>alert(1)</script>", "not an image we can read"),
    ("PNG named .jpg", "misnamed.jpg", _encode(Image.new("RGB", (50, 50), (1, 2, 3)), "PNG"), None),
    ("SVG", "drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "Invalid file type"),
]


def run_features(client, image=None, weights="random", checkpoint=None):
    return client.predict(*CONFIG, handle_file(str(image)) if image else None, "cat", weights,
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


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


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
    torch.save({"conv1.weight": _Exploit()}, evil, pickle_module=pickle)
    corpus = [
        (tmp_path / "notes.pth", "not a readable PyTorch/safetensors checkpoint"),
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


def test_checkpoint_over_the_size_limit(client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import resnet.weights

    monkeypatch.setattr(resnet.weights, "MAX_CHECKPOINT_BYTES", 1000)
    path = _ckpt(tmp_path, "big.pth", build(get_preset("resnet18"), init_weights=False).state_dict())
    with pytest.raises(Exception, match="over the 0 MiB limit"):
        run_features(client, weights="file", checkpoint=path)


@pytest.mark.parametrize("config, message", [
    (["Custom", "resnet18", "bottleneck", 0, 4, 6, 3, 64, 1, "v1.5", 224], "less than minimum value 1"),
    (["Custom", "resnet18", "bottleneck", -3, 4, 6, 3, 64, 1, "v1.5", 224], "less than minimum value 1"),
    (["Custom", "resnet18", "bottleneck", 2.5, 4, 6, 3, 64, 1, "v1.5", 224], "must be a whole number"),
    (["Custom", "resnet18", "bottleneck", 10**6, 4, 6, 3, 64, 1, "v1.5", 224], "greater than maximum value 64"),
    (["Custom", "resnet18", "basic", 3, 4, 6, 3, 64, 32, "v1.5", 224], "groups must be 1 and width_per_group 64"),
    (["Custom", "resnet18", "basic", 3, 4, 6, 3, 96, 1, "v1.5", 224], "groups must be 1 and width_per_group 64"),
    (["Preset", "resnet18", "bottleneck", 3, 4, 6, 3, 64, 1, "v1.5", 8], "less than minimum value 32"),
    (["Preset", "resnet18", "bottleneck", 3, 4, 6, 3, 64, 1, "v1.5", 5000], "greater than maximum value 1024"),
    (["Preset", "resnet1000", "bottleneck", 3, 4, 6, 3, 64, 1, "v1.5", 224], "resnet1000"),
    (["Preset", "resnet18", "bottleneck", "three", 4, 6, 3, 64, 1, "v1.5", 224], "three"),
    (["Preset", "resnet18", "bottleneck", None, 4, 6, 3, 64, 1, "v1.5", 224], "."),
    (["Sideways", "resnet18", "bottleneck", 3, 4, 6, 3, 64, 1, "v1.5", 224], "Sideways"),
])
def test_config_corpus(client, config: list, message: str) -> None:
    for endpoint in ("/summarize", "/structure"):
        with pytest.raises(Exception, match=message):
            client.predict(*config, api_name=endpoint)
    totals, *_ = client.predict(*CONFIG, api_name="/summarize")
    assert "**8 blocks**" in totals


def test_upload_names_with_path_separators_stay_in_the_upload_folder(app_url: str, client, tmp_path: Path) -> None:
    png = _encode(Image.new("RGB", (40, 40), (5, 5, 5)), "PNG")
    for name in ("../../../../tmp/escape.png", "..\\..\\escape.png", "a/../../b.png"):
        r = httpx.post(f"{app_url}gradio_api/upload", files={"files": (name, png, "image/png")}, timeout=30)
        assert r.status_code == 200
        stored = Path(r.json()[0])
        assert ".." not in stored.parts and stored.name.endswith(".png")
        assert str(stored.resolve()).startswith(os.environ["GRADIO_TEMP_DIR"])
    assert not Path("/tmp/escape.png").exists()


def test_server_paths_cannot_be_read_through_the_api(app_url: str, client) -> None:
    """A client may not name a server file (outside the upload folder) as its 'upload'."""
    payload = {"data": [*CONFIG, {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, "cat", "random",
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
    paths = [Path(client.predict(*CONFIG, "blocks", "TB", False, 96, api_name="/export_csv")) for _ in range(2)]
    assert [p.name for p in paths] == ["resnet18_blocks.csv"] * 2
