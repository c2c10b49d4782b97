"""Feature maps: capture numerics, statistics, views, image decoding and refusals, memory budget."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from badfiles import encode, png_bomb
from explorer.capture import capture
from explorer.features.capture import summarise_outputs
from explorer.features.views import channel_zoom_figure, channel_grid, network_figure, overlay, top5, GRID_GAP, GRID_TILE
from explorer.features.images import ImageError, load_image
from explorer.features.store import FeatureStore
from explorer.limits import Limits
from resnet import build, get_preset

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg"


@pytest.fixture(scope="module")
def r50_capture():
    torch.manual_seed(0)
    model = build(get_preset("resnet50")).eval()
    x = torch.randn(1, 3, 128, 128)
    return model, x, capture(model, x, keep_full=True)


def test_residual_plus_shortcut_is_the_pre_relu_sum(r50_capture) -> None:
    _, _, cap = r50_capture
    for name in ("layer1.0", "layer1.1", "layer2.0", "layer3.4", "layer4.2"):
        f = cap.full[name]
        pre = f["residual"] + f["shortcut"]
        assert torch.allclose(torch.relu(pre), f["output"], atol=1e-5)
        assert (pre < 0).any()  # the ReLU really clips something
        st = cap.stats(name)
        assert st.residual_norm == pytest.approx(float(f["residual"].norm()), rel=1e-4)
        assert st.shortcut_norm == pytest.approx(float(f["shortcut"].norm()), rel=1e-4)
        assert st.residual_ratio == pytest.approx(st.residual_norm / st.shortcut_norm)
    assert cap.stats("layer1.0").projection and not cap.stats("layer1.1").projection


def test_captured_output_equals_running_the_model_up_to_that_block(r50_capture) -> None:
    model, x, cap = r50_capture
    with torch.no_grad():
        h = model.stem(x)
        for stage in ("layer1", "layer2", "layer3"):
            for i, block in enumerate(getattr(model, stage)):
                h = block(h)
                if f"{stage}.{i}" in ("layer1.2", "layer2.0", "layer3.5"):
                    assert torch.allclose(cap.full[f"{stage}.{i}"]["output"], h, atol=1e-5)
                    maps = cap.maps[f"{stage}.{i}"]
                    assert np.allclose(maps.maps.astype(np.float32), h[0].numpy(), atol=1e-2, rtol=1e-3)
                    assert np.allclose(maps.channel_means, h[0].mean(dim=(1, 2)).numpy(), rtol=1e-4, atol=1e-6)
    assert model.training is False and all(not m._forward_hooks for m in model.modules())


def test_statistics_on_crafted_tensor() -> None:
    y = torch.zeros(1, 4, 5, 5)
    y[0, 0] = 2.0  # channel 0: all 2
    y[0, 1, 0, 0] = 5.0  # channel 1: one 5
    y[0, 3, :, :2] = 1.0  # channel 3: 10 ones; channel 2 dead
    ((maps, s),) = summarise_outputs([y], 1 << 20)
    values = y.flatten()
    assert s["mean"] == pytest.approx(float(values.mean()))
    assert s["std"] == pytest.approx(float(values.std()))
    assert s["zero_fraction"] == pytest.approx(float((values == 0).float().mean()))
    assert s["dead_channels"] == 1
    assert s["norm"] == pytest.approx(float(values.norm()))
    assert list(maps.channel_means) == pytest.approx([2.0, 0.2, 0.0, 0.4])
    assert list(maps.channel_maxima) == [2.0, 5.0, 0.0, 1.0]
    assert not maps.pooled and maps.maps.dtype == np.float32
    # Over its allowance the output is pooled to float16, with the same statistics and full-resolution
    # means and maxima.
    ((small, s2),) = summarise_outputs([y], 4 * 3 * 3 * 2)
    assert small.pooled and small.maps.dtype == np.float16 and small.maps.shape[1:] == (3, 3)
    assert small.maps.nbytes <= 4 * 3 * 3 * 2
    assert s2 == s
    assert list(small.channel_means) == pytest.approx([2.0, 0.2, 0.0, 0.4])
    assert list(small.channel_maxima) == [2.0, 5.0, 0.0, 1.0] and small.maps[1].max() < 5.0


def test_grid_size_and_channel_order(r50_capture) -> None:
    _, _, cap = r50_capture
    grid, channels = channel_grid(cap, "layer2.1", 10)
    means = cap.maps["layer2.1"].channel_means
    assert channels == [int(c) for c in np.argsort(-means, kind="stable")[:10]]
    assert all(means[a] >= means[b] for a, b in zip(channels, channels[1:]))
    cols, rows = 4, 3  # ceil(sqrt(10)) columns
    assert grid.shape == (rows * (GRID_TILE + GRID_GAP) - GRID_GAP, cols * (GRID_TILE + GRID_GAP) - GRID_GAP, 3)
    assert channel_grid(cap, "layer2.1", 1000)[1].__len__() == 512  # k is capped at the channel count
    # The first tile shows the strongest channel, normalised to its own range.
    tile = grid[:GRID_TILE, :GRID_TILE]
    assert tile.reshape(-1, 3).std(axis=0).sum() > 0
    # Each tile carries its channel index, white on black, in its top-left corner.
    step = GRID_TILE + GRID_GAP
    corners = [grid[r * step:r * step + 12, q * step:q * step + 8 * len(str(channels[r * 4 + q]))]
               for r in range(3) for q in range(4) if r * 4 + q < 10]
    assert all((c[0, 0] == 0).all() and (c > 200).all(axis=-1).any() for c in corners)
    assert len({c.tobytes() for c in corners}) == len(set(channels))  # different indices, different labels


def test_views_from_a_stored_capture() -> None:
    store = FeatureStore()
    cid, cap, loaded = store.run_image(get_preset("resnet18"), CAT)
    assert store.capture(cid) is cap and not loaded.trained
    assert cap.crop.size == (224, 224) and "Random weights" in cap.notices[0]
    over = overlay(cap, "layer3.1")
    assert over.shape == (224, 224, 3)
    fig = channel_zoom_figure(cap, "layer1.0", 3)
    assert "layer1.0, channel 3: range" in fig.layout.title.text
    with pytest.raises(ValueError, match="channel must be from 0 to 63"):
        channel_zoom_figure(cap, "layer1.0", 64)
    net = network_figure(cap)
    assert [t.name for t in net.data][:3] == ["zeros", "mean", "‖F‖/‖shortcut‖"]
    assert list(net.data[3].x) == ["layer2.0", "layer3.0", "layer4.0"]  # projections marked
    # Three rows on one shared x axis, block names on the bottom row only, titled like subplots.
    assert net.layout.xaxis.matches == "x3" and net.layout.xaxis2.matches == "x3"
    assert net.layout.xaxis3.showticklabels and not net.layout.xaxis.showticklabels
    tops = [net.layout[f"yaxis{s}"].domain[1] for s in ("", "2", "3")]
    assert tops[0] == 1 and tops[0] > tops[1] > tops[2]
    assert [a.y for a in net.layout.annotations] == tops
    assert [t.yaxis or "y" for t in net.data] == ["y", "y2", "y3", "y3"]
    marked = network_figure(cap, "layer3.1").layout.shapes
    names = [b.name for b in cap.blocks]
    assert len(marked) == 3 and {s.x0 for s in marked} == {names.index("layer3.1")}
    assert not network_figure(cap, "nonsense").layout.shapes
    # The light theme keeps plotly_white's look.
    white = __import__("plotly.io", fromlist=["templates"]).templates["plotly_white"].layout
    for fig in (net, channel_zoom_figure(cap, "layer1.0", 3)):
        theme = fig.layout.template.layout
        assert theme.plot_bgcolor == white.plot_bgcolor and theme.xaxis.gridcolor == white.xaxis.gridcolor
        assert theme.colorway == white.colorway and theme.font.color == white.font.color
    assert len(top5(cap)) == 5


def test_memory_budget_pools_maps() -> None:
    model = build(get_preset("resnet152"), init_weights=False)
    x = torch.randn(1, 3, 224, 224)
    budget = 8 * 2**20
    cap = capture(model, x, budget_bytes=budget)
    assert cap.nbytes <= budget
    assert cap.maps["layer1.0"].maps.shape[1] < 56  # pooled to fit
    assert cap.maps["layer1.0"].shape == (256, 56, 56)  # the full shape is still known
    pooled = cap.maps["layer1.0"]
    assert f"full-resolution max {pooled.channel_maxima[5]:.3g}" in channel_zoom_figure(cap, "layer1.0", 5).layout.title.text
    full = capture(model, x)  # the default budget keeps every ResNet-152 map at full size
    assert full.nbytes < Limits().capture_bytes and not any(m.pooled for m in full.maps.values())
    assert "full map 56×56" in channel_zoom_figure(full, "layer1.0", 0).layout.title.text


def test_full_size_outputs_held_only_within_budget() -> None:
    """Over budget, no block output (or input) outlives its block during the forward: at the classifier at
    most the last one is alive. Within budget all 16 are held, to be reduced after the forward. Both give
    the same statistics."""
    import weakref

    torch.manual_seed(0)
    model = build(get_preset("resnet50")).eval()
    x = torch.randn(1, 3, 160, 160)
    capture(model, x)  # its blocks recognised (a meta pass, cached per model and input), before the hooks count
    refs: list[weakref.ref] = []
    alive_at_fc: list[int] = []
    blocks = [m for n, m in model.named_modules() if n.count(".") == 1 and n.startswith("layer")]
    hooks = [m.register_forward_hook(lambda m, i, o: refs.append(weakref.ref(o))) for m in blocks]
    hooks.append(model.fc.register_forward_hook(lambda *a: alive_at_fc.append(sum(r() is not None for r in refs))))
    try:
        small = capture(model, x, budget_bytes=2**20)
        refs.clear()
        whole = capture(model, x)
    finally:
        for h in hooks:
            h.remove()
    assert len(refs) == 16 and alive_at_fc[0] <= 1 and alive_at_fc[1] == 16
    assert all(m.pooled for m in small.maps.values()) and not any(m.pooled for m in whole.maps.values())
    for a, b in zip(small.blocks, whole.blocks):
        for f in ("mean", "std", "zero_fraction", "residual_norm", "shortcut_norm", "residual_ratio"):
            assert getattr(a, f) == pytest.approx(getattr(b, f), rel=1e-5), (a.name, f)
        assert a.dead_channels == b.dead_channels


def test_device_failure_falls_back_to_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback branch: a device error on the first try reruns on the CPU with a notice."""
    import explorer.features.capture as capture_mod

    model = build(get_preset("resnet18"), init_weights=False)
    real = capture_mod._Recorder.run
    monkeypatch.setattr(capture_mod, "resolve_device", lambda d: torch.device("cuda"))

    def failing(self, x, device):
        if device.type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, x, device)

    monkeypatch.setattr(capture_mod._Recorder, "run", failing)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    cap = capture(model, torch.randn(1, 3, 64, 64), device="cuda")
    assert cap.device == "cpu"
    assert cap.notices == ["CUDA failed (CUDA out of memory. Tried to allocate 2.00 GiB); ran on the CPU instead"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_capture_on_cuda_matches_cpu() -> None:
    torch.manual_seed(0)
    model = build(get_preset("resnet50")).eval()
    x = torch.randn(1, 3, 224, 224)
    cpu = capture(model, x)
    gpu = capture(model, x, device="cuda")
    assert gpu.device.startswith("cuda") and next(model.parameters()).device.type == "cpu"
    for a, b in zip(cpu.blocks, gpu.blocks):
        assert a.name == b.name and b.residual_ratio == pytest.approx(a.residual_ratio, rel=1e-2)


# ---- image decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF"])
def test_every_format_decodes(fmt: str) -> None:
    img = Image.new("RGB", (320, 240), (200, 30, 30))
    out = load_image(encode(img if fmt != "GIF" else img.convert("P"), fmt))
    assert out.mode == "RGB" and out.size == (320, 240)
    r, g, b = out.getpixel((10, 10))
    assert r > 150 and g < 80 and b < 80


def test_modes_convert_correctly() -> None:
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent red -> white
    assert load_image(encode(rgba, "PNG")).getpixel((1, 1)) == (255, 255, 255)
    half = Image.new("RGBA", (40, 30), (0, 0, 0, 128))  # half-transparent black -> grey
    assert load_image(encode(half, "PNG")).getpixel((1, 1)) == (127, 127, 127)
    la = Image.new("LA", (40, 30), (0, 0))
    assert load_image(encode(la, "PNG")).getpixel((1, 1)) == (255, 255, 255)
    gray = Image.new("L", (40, 30), 77)
    assert load_image(encode(gray, "PNG")).getpixel((1, 1)) == (77, 77, 77)
    pal = Image.new("P", (40, 30), 1)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    assert load_image(encode(pal, "PNG", transparency=1)).getpixel((1, 1)) == (255, 255, 255)
    assert load_image(encode(pal, "PNG")).getpixel((1, 1)) == (0, 0, 255)
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # red in CMYK
    r, g, b = load_image(encode(cmyk, "JPEG")).getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60
    deep = Image.fromarray(np.full((30, 40), 40000, dtype=np.uint16))
    assert deep.mode == "I;16"
    assert load_image(encode(deep, "PNG")).getpixel((1, 1)) == (156, 156, 156)  # 40000/65535*255


def test_gif_first_frame() -> None:
    frames = [Image.new("P", (30, 30), i) for i in (1, 2)]
    for f in frames:
        f.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert load_image(data).getpixel((1, 1)) == (255, 0, 0)


def test_exif_orientation_is_honoured() -> None:
    img = Image.new("RGB", (60, 30), (0, 0, 0))
    img.paste((255, 0, 0), (0, 0, 30, 30))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = load_image(encode(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.size == (30, 60)
    r, g, b = out.getpixel((15, 5))  # the red half ends up on top
    assert r > 200 and g < 60


@pytest.mark.parametrize("fmt, resize, max_diff", [("PNG", 256, 0), ("PNG", 232, 0), ("JPEG", 256, 2),
                                                   ("JPEG", 232, 2)])
def test_large_images_preprocess_like_the_full_image(fmt: str, resize: int, max_diff: int) -> None:
    """The crop of a 12 MP image equals (PNG) or is within 2 grey levels of (JPEG, decoded at a reduced scale)
    torchvision's preprocessing of the fully decoded image."""
    from resnet import Preprocess
    from synthetic_weights import synthetic_image

    data = encode(synthetic_image(4000, 3000), fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    loaded = load_image(data, need_short_side=resize)
    assert loaded.size == (4000, 3000) if fmt == "PNG" else 1024 <= min(loaded.size) < 3000
    pre = Preprocess(resize)
    ours = np.asarray(pre.crop(loaded), dtype=np.int16)
    full = np.asarray(pre.crop(Image.open(io.BytesIO(data)).convert("RGB")), dtype=np.int16)
    assert np.abs(ours - full).max() <= max_diff


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"just some text, renamed to .png", "not an image we can read"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", "not an image we can read"),
    (b"<html><body>hello</body></html>", "not an image we can read"),
    (png_bomb(100_000, 100_000), "too many pixels"),
    (png_bomb(8_000, 6_000), "over the 40 MP limit"),
])
def test_refusals(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        load_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = encode(Image.effect_noise((300, 300), 60).convert("RGB"), fmt)
    with pytest.raises(ImageError, match="damaged or truncated") as err:
        load_image(data[: len(data) // 2])
    assert "Truncated File Read" not in str(err.value) and "save or export it again" in str(err.value)  # plain words


def test_misleading_extension_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "photo.gif"
    path.write_bytes(CAT.read_bytes())  # a JPEG named .gif: decoded by content
    assert load_image(path).size == (451, 300)
