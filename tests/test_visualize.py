"""Feature visualization (#38), against what the test measures itself on a CIFAR ResNet it trains on generated
stripes (horizontal against vertical): which channels prefer which orientation (their mean activation over the
two classes), the orientation of a picture (its own windowed 2-D FFT energy along the two axes), the activation
a picture reaches (a forward hook on the block), MACO's magnitude (numpy's FFT of the given images); and on library
models (timm, Hugging Face) and an ONNX file the explorer opens, the activation against the model's own hooks."""
from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from training import fit, hooked_output

from explorer.visualize import Cancelled, Maco, Settings, magnitude_of, shipped_magnitude, visualize
from explorer.visualize.check import check
from explorer.visualize.param import COLOR_SQRT, SPECTRUM_SIZE
from resnet import build, parse_spec
from resnet.preprocess import NORMALISATIONS

ROOT = Path(__file__).resolve().parent.parent
MEAN, STD = NORMALISATIONS["cifar10"]
STEPS = 320  # on a 32 px picture: a few seconds for two channels


def stripes(n: int, horizontal: bool, gen: torch.Generator, size: int = 32) -> torch.Tensor:
    """n images of coloured stripes (period 8–16 px, random phase, a little noise), pixels in [0, 1]."""
    y, x = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    out = []
    for _ in range(n):
        period = 8 + 8 * float(torch.rand(1, generator=gen))
        phase = 2 * math.pi * float(torch.rand(1, generator=gen))
        wave = 0.5 + 0.4 * torch.sin(2 * math.pi * (y if horizontal else x) / period + phase)
        colour = 0.5 + 0.5 * torch.rand(3, 1, 1, generator=gen)
        out.append((wave[None] * colour + 0.05 * torch.randn(3, size, size, generator=gen)).clamp(0, 1))
    return torch.stack(out)


def _normalised(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def _block_means(model: torch.nn.Module, module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    kept = {}
    hooked_output(model, x, [(module, lambda _m, _i, o: kept.__setitem__("o", o))])
    return kept["o"].mean((2, 3))


@pytest.fixture(scope="module")
def striped() -> dict:
    gen = torch.Generator().manual_seed(0)
    pixels = torch.cat([stripes(64, True, gen), stripes(64, False, gen)])
    labels = torch.cat([torch.zeros(64), torch.ones(64)]).long()
    torch.manual_seed(0)
    model = fit(build(parse_spec("cifar:1-1-1:c2")), _normalised(pixels), labels, 40)
    means = _block_means(model, model.layer2[0], _normalised(pixels))
    prefers = (means[:64].mean(0) - means[64:].mean(0)) / (means.std(0) + 1e-6)
    return {"model": model, "pixels": pixels, "labels": labels, "means": means,
            "horizontal": int(prefers.argmax()), "vertical": int(prefers.argmin()), "prefers": prefers}


def orientation(picture: np.ndarray, w: int = 16) -> tuple[float, float]:
    """Energy along the vertical and horizontal frequency axes (horizontal and vertical stripes), summed over
    Hann-windowed patches: a MACO picture's global spectrum is its fixed magnitude, its patches' are not."""
    gray = picture.astype(np.float64).mean(2)
    win = np.outer(np.hanning(w), np.hanning(w))
    fy, fx = np.fft.fftfreq(w)[:, None], np.fft.fftfreq(w)[None, :]
    across, along = np.abs(fy) > 2 * np.abs(fx), np.abs(fx) > 2 * np.abs(fy)
    h = v = 0.0
    for i in range(0, gray.shape[0] - w + 1, w // 2):
        for j in range(0, gray.shape[1] - w + 1, w // 2):
            patch = gray[i:i + w, j:j + w]
            energy = np.abs(np.fft.fft2((patch - patch.mean()) * win)) ** 2
            h, v = h + energy[across].sum(), v + energy[along].sum()
    return h, v


@pytest.fixture(scope="module")
def pictures(striped: dict) -> dict:
    """Both parameterisations' pictures of the two channels (horizontal, vertical), with their defaults."""
    return {m: visualize(striped["model"], "layer2.0", [striped["horizontal"], striped["vertical"]],
                         Settings(method=m, steps=STEPS, size=32), MEAN, STD) for m in ("maco", "fourier")}


@pytest.mark.parametrize("method", ["maco", "fourier"])
def test_a_channel_gets_the_orientation_it_prefers(striped: dict, pictures: dict, method: str) -> None:
    model, h_ch, v_ch = striped["model"], striped["horizontal"], striped["vertical"]
    assert striped["prefers"][h_ch] > 1 and striped["prefers"][v_ch] < -1  # the test's own selectivity
    found = pictures[method]
    assert [p.channel for p in found] == [h_ch, v_ch]
    (h1, v1), (h2, v2) = orientation(found[0].pixels), orientation(found[1].pixels)
    assert h1 > 2 * v1 and v2 > 2 * h2, (method, h1, v1, h2, v2)
    for p in found:  # what it reaches is what the block gives the picture
        own = _block_means(model, model.layer2[0], _normalised(torch.from_numpy(p.pixels).permute(2, 0, 1)[None] / 255))
        assert p.mean == pytest.approx(float(own[0, p.channel]), rel=1e-4, abs=1e-5)
        assert np.mean(p.objective[-10:]) > p.objective[0]


def test_a_picture_beats_every_training_image(striped: dict, pictures: dict) -> None:
    """Lucid's Fourier pictures, whose contrast may grow: above every training image, for both channels. (MACO's
    contrast is fixed by its magnitude, as the paper has it; its pictures are judged by orientation above.)"""
    for p in pictures["fourier"]:
        best = float(striped["means"][:, p.channel].max())
        assert p.mean > best, (p.channel, p.mean, best)


def test_a_batch_equals_its_channels_one_at_a_time(striped: dict) -> None:
    model = striped["model"]
    s = Settings(method="fourier", steps=12, size=32, per_channel=2, diversity=0.5, seed=3)
    together = visualize(model, "layer1.0", [1, 4, 6], s, MEAN, STD, batch=6)
    alone = [p for c in (1, 4, 6) for p in visualize(model, "layer1.0", [c], s, MEAN, STD, batch=1)]
    assert [(p.channel, p.index) for p in together] == [(p.channel, p.index) for p in alone]
    for a, b in zip(together, alone):
        assert np.abs(a.pixels.astype(int) - b.pixels.astype(int)).max() <= 1
        assert a.mean == pytest.approx(b.mean, rel=1e-3, abs=1e-4)
    assert not np.array_equal(together[0].pixels, together[1].pixels)  # a channel's two pictures differ


def test_the_maco_magnitude_is_the_given_images(striped: dict) -> None:
    images = list(striped["pixels"][::16])
    mag = magnitude_of(images, 32).double().numpy()
    inverse = np.linalg.inv(np.array(COLOR_SQRT))
    own = np.mean([np.abs(np.fft.rfft2(np.einsum("chw,cd->dhw", im.double().numpy()
                                                  - im.double().numpy().mean((1, 2), keepdims=True), inverse)))
                   for im in images], axis=0)
    assert np.allclose(mag, own, rtol=1e-4, atol=1e-6)
    # a MACO picture's spectrum (before the colours are mixed and squashed) is that magnitude, up to one scale
    maco = Maco(32, torch.from_numpy(mag).float())
    phase = torch.randn(2, 3, 32, 17, generator=torch.Generator().manual_seed(1))
    pixels = maco.pixels(phase).double()
    signal = np.einsum("nchw,cd->ndhw", torch.logit(pixels).numpy(), np.linalg.inv(np.array(COLOR_SQRT)))
    got = np.abs(np.fft.rfft2(signal))
    inner = (slice(None), slice(None), slice(1, -1))  # (the first and last columns are their own mirror images:
    live = own[inner] > own.max() * 1e-3  # the inverse FFT keeps only their symmetric part)
    ratio = got[(slice(None), *inner)][:, live] / own[inner][live]
    assert np.allclose(ratio, ratio[:, :1], rtol=1e-3)
    # the shipped spectrum is the example photos', computed as the script that writes it does
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_spectrum import photos

    assert torch.allclose(shipped_magnitude(SPECTRUM_SIZE), magnitude_of(photos(), SPECTRUM_SIZE), rtol=1e-5)


def test_progress_cancel_and_refusals(striped: dict) -> None:
    model, seen = striped["model"], []
    visualize(model, "layer1.0", [0, 1, 2], Settings(steps=3, size=32), MEAN, STD, batch=2,
              progress=lambda step, total, secs: seen.append((step, total)))
    assert seen == [(i, 6) for i in range(1, 7)]  # two batches of three steps
    with pytest.raises(Cancelled, match="stopped at step 2 of 5"):
        visualize(model, "layer1.0", [0], Settings(steps=5, size=32), MEAN, STD,
                  cancel=lambda: len(seen) >= 8, progress=lambda *a: seen.append(a))
    with pytest.raises(ValueError, match=r"layer1.0 has 16 channels \(0–15\); got channel 99"):
        visualize(model, "layer1.0", [99], Settings(steps=1, size=32), MEAN, STD)
    with pytest.raises(ValueError, match="no block 'layer9.0' in"):
        visualize(model, "layer9.0", [0], Settings(steps=1, size=32), MEAN, STD)
    with pytest.raises(ValueError, match="method must be one of maco, fourier"):
        visualize(model, "layer1.0", [0], Settings(method="lucid"), MEAN, STD)


def _library_models(tmp_path: Path) -> list[tuple[str, torch.nn.Module, str, torch.nn.Module, torch.nn.Module]]:
    """(name, the model the explorer runs, its block, the model the test hooks, the module it hooks)."""
    import timm
    import torchvision
    from transformers import ResNetConfig, ResNetModel

    from explorer.sources import open_model_file

    torch.manual_seed(0)
    tm = timm.create_model("resnet18", pretrained=False).eval()
    hf = ResNetModel(ResNetConfig(depths=[1, 1, 1, 1], layer_type="basic", hidden_sizes=[16, 32, 64, 128],
                                  embedding_size=16)).eval()
    tv = torchvision.models.resnet18(num_classes=10).eval()
    path = tmp_path / "resnet18.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tv, (torch.randn(1, 3, 64, 64),), str(path), dynamo=False, opset_version=17)
    onnx = open_model_file(path, 512 * 2**20).build().eval()
    from explorer.tracing import trace

    third = trace(onnx, input_size=64).blocks[2].name  # layer2.0 of the torchvision model
    return [("timm", tm, "layer2.0", tm, tm.layer2[0]),
            ("transformers", hf, "encoder.stages.1.layers.0", hf, hf.encoder.stages[1].layers[0]),
            ("onnx", onnx, third, tv, tv.layer2[0])]


def test_library_models_and_an_onnx_file(tmp_path: Path) -> None:
    for name, model, block, own, module in _library_models(tmp_path):
        (p,) = visualize(model, block, [3], Settings(steps=6, size=64), batch=1)
        x = torch.from_numpy(p.pixels).permute(2, 0, 1)[None] / 255
        x = (x - torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)) / torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
        assert p.mean == pytest.approx(float(_block_means(own, module, x)[0, 3]), rel=1e-3, abs=1e-4), name
        assert p.objective[-1] > p.objective[0], name


def _save_folder(pixels: torch.Tensor, labels: torch.Tensor, root: Path) -> None:
    for i, (im, y) in enumerate(zip(pixels, labels)):
        (root / ("horizontal", "vertical")[int(y)]).mkdir(parents=True, exist_ok=True)
        Image.fromarray((im.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
            root / ("horizontal", "vertical")[int(y)] / f"{i:03d}.png")


def test_the_cli_writes_pictures_and_checks_them_against_a_dataset_run(striped: dict, tmp_path: Path) -> None:
    """The trained model saved as the public CIFAR code saves it; a dataset run over its training folder; then
    ``visualize`` with that run: the pictures, the JSON of settings and checks, the check's numbers."""
    model, ch = striped["model"], striped["horizontal"]
    torch.save(model.state_dict(), tmp_path / "stripes.th")
    _save_folder(striped["pixels"], striped["labels"], tmp_path / "train")
    run = lambda *a: subprocess.run([sys.executable, "-m", "explorer", *map(str, a)], cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True, timeout=600)
    r = run("dataset", tmp_path / "stripes.th", tmp_path / "train", "--out", tmp_path / "run", "--top-k", "3")
    assert r.returncode == 0, r.stderr
    r = run("visualize", tmp_path / "stripes.th", "--block", "layer2.0", "--channels", f"{ch},{ch + 1}",
            "--method", "fourier", "--steps", "160", "--run", tmp_path / "run", "--out", tmp_path / "vis", "--json")
    assert r.returncode == 0, r.stderr
    assert "2 pictures × 160 steps at 32 px" in r.stderr
    d = json.loads(r.stdout)
    assert d["settings"]["method"] == "fourier" and d["settings"]["size"] == 32
    first = d["pictures"][0]
    picture = np.asarray(Image.open(tmp_path / "vis" / first["file"]))
    assert first["file"] == f"layer2.0_c{ch}.png" and picture.shape == (32, 32, 3)
    own = _block_means(model, model.layer2[0], _normalised(torch.from_numpy(picture).permute(2, 0, 1)[None] / 255))
    assert first["mean"] == pytest.approx(float(own[0, ch]), rel=1e-4, abs=1e-5)
    rows = [line.split(",") for line in (tmp_path / "run" / "top.csv").read_text().splitlines()[1:]]
    top = next(float(r[4]) for r in rows if r[0] == "layer2.0" and int(r[1]) == ch and r[2] == "1")
    assert first["check"]["top_value"] == pytest.approx(top, rel=1e-5)
    assert first["check"]["line"].startswith(f"Reaches {first['peak']:.3g} at its peak")
    assert f"× the channel's top dataset image ({top:.3g}, " in first["check"]["line"]
    assert [b for b, _ in first["check"]["path"]] == ["layer1.0"]  # the earlier block
    r = run("visualize", tmp_path / "stripes.th", "--block", "layer2.0", "--channels", "0-99", "--out", tmp_path / "x")
    assert r.returncode != 0 and r.stderr.strip().splitlines()[-1].startswith("error: --channels: layer2.0 has 32")
    r = run("visualize", tmp_path / "stripes.th", "--atlas", "--block", "layer1.0", "--steps", "4", "--size", "32",
            "--shard", "8", "--out", tmp_path / "atlas", "--json")
    assert r.returncode == 0, r.stderr
    atlas = json.loads(r.stdout)
    assert atlas["shards"] == 2 and [p["channel"] for p in atlas["pictures"]] == list(range(16))
    assert all((tmp_path / "atlas" / p["file"]).is_file() for p in atlas["pictures"])
    assert "2/2 shards" in r.stderr


def test_the_check_says_where_the_path_is_unlike_real_images() -> None:
    from explorer.visualize import Visualization

    rows = lambda means, stds: [{"channel": str(i), "mean": str(m), "std": str(s)}  # noqa: E731
                                for i, (m, s) in enumerate(zip(means, stds))]
    run = type("Run", (), {"channels": {"a": rows([0, 0, 0], [1, 1, 1]), "b": rows([1, 1, 1], [1, 1, 1]),
                                        "c": rows([0, 0], [1, 1])},
                           "top": {"c": [{"channel": "1", "rank": "1", "value": "2.0", "image": "x/1.png"}]}})()
    v = Visualization("c", 1, 0, np.zeros((4, 4, 3), np.uint8), 1.5, 4.0,
                      {"a": np.array([0.1, -0.2, 0.5]), "b": np.array([5.0, 4.0, -1.0]), "c": np.array([0, 1.5])})
    c = check(v, run)
    assert c.ratio == 2.0 and c.path == (("a", 0.2), ("b", 3.0))
    assert c.line == ("Reaches 4 at its peak (mean 1.5): 2× the channel's top dataset image (2, x/1.png). Path: like "
                      "the dataset's at 1 of 2 earlier blocks (median |z| ≤ 1); unlike at b (worst b, median |z| 3).")
    assert check(v, None).line.endswith("run or open one to compare this picture with real images.")


@pytest.mark.slow
def test_the_channel_page_in_the_browser(page, tmp_path: Path) -> None:
    """Pick a channel in the Feature maps grid; the Channel tab opens on it with the channel over the cat and,
    with a dataset run of this model open, its examples; its picture is drawn on request and checked against the
    run's top image (the number top.csv has); random weights say the picture means nothing."""
    from playwright.sync_api import expect

    from resnet_explorer.context import APP
    from resnet_explorer.settings import AppSettings

    images = tmp_path / "data" / "noise"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (240, 240, 3), dtype=np.uint8)).save(images / f"{i}.png")
    r = subprocess.run([sys.executable, "-m", "explorer", "dataset", "resnet50", str(images), "--out",
                        str(tmp_path / "runs" / "noise"), "--top-k", "2"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    before = APP.settings
    APP.configure(AppSettings(limits=before.limits, runs=tmp_path / "runs", datasets=tmp_path / "data"))
    try:
        page.get_by_role("tab", name="Dataset").click()
        page.locator("#ds-results input").fill("noise")
        page.locator("#ds-results input").press("Enter")
        page.locator("#ds-open").click()
        expect(page.locator("#ds-summary")).to_contain_text("4 images", timeout=60_000)
        page.get_by_role("tab", name="Feature maps").click()
        grid = page.locator("#fm-grid img")
        expect(grid).to_be_visible(timeout=120_000)
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 10, box["y"] + 10)  # the first tile: the block's strongest channel
        expect(page.locator("#ch-title")).to_contain_text("channel", timeout=60_000)
        block = page.locator("#ch-block input").input_value()
        channel = int(page.locator("#ch-channel input").input_value())
        assert page.locator("#fm-channel input").input_value() == str(channel)
        expect(page.locator("#ch-title")).to_contain_text(f"resnet50 · {block} · channel {channel}")
        expect(page.locator("#ch-title")).to_contain_text("random weights: the picture means nothing")
        expect(page.locator("#ch-title")).to_contain_text("about")  # the cost, stated before it runs
        expect(page.locator("#ch-map img")).to_be_visible(timeout=30_000)
        expect(page.locator("#ch-examples img").first).to_be_visible(timeout=60_000)
        for name, value in (("steps", "8"), ("size", "64")):
            box_input = page.locator(f"#ch-{name} input[type=number]")
            box_input.fill(value)
            box_input.press("Enter")
        page.locator("#ch-go").click()
        expect(page.locator("#ch-picture img")).to_be_visible(timeout=120_000)
        rows = [line.split(",") for line in (tmp_path / "runs" / "noise" / "top.csv").read_text().splitlines()[1:]]
        top = next(float(r[4]) for r in rows if r[0] == block and int(r[1]) == channel and r[2] == "1")
        expect(page.locator("#ch-check")).to_contain_text(f"× the channel's top dataset image ({top:.3g}, ")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.screenshot(path=str(tmp_path / "channel_page.png"))
        # from the Dataset tab: a channel typed there opens here with "Its picture ›"
        page.get_by_role("tab", name="Dataset").click()
        ds_block = page.locator("#ds-block input").input_value()
        page.locator("#ds-channel input").fill("5")
        page.locator("#ds-channel input").press("Enter")
        page.locator("#ds-to-channel").click()
        expect(page.locator("#ch-title")).to_contain_text(f"resnet50 · {ds_block} · channel 5", timeout=60_000)
        assert page.locator("#ch-channel input").input_value() == "5"
        # from the inspector: a graph node selected, its channels' pictures a button away (the channel kept)
        page.get_by_role("tab", name="Graph").click()
        node = page.locator("#graph svg g.node", has=page.locator("title", has_text=re.compile(r"^layer3\.2$")))
        node.click()
        expect(page.locator("#inspector-facts")).to_contain_text("layer3.2 · Bottleneck", timeout=30_000)
        page.locator("#inspector-channel-page").click()
        expect(page.locator("#ch-title")).to_contain_text("resnet50 · layer3.2 · channel 5", timeout=60_000)
    finally:
        APP.configure(before)


def test_the_channel_endpoints_refuse_bad_input_in_one_line(client) -> None:
    base = ["resnet18", None, "random", "cpu", "own", "layer2.0"]
    for channel, method, steps, size, message in ((500, "maco", 8, 64, "layer2.0 has 128 channels (0–127); got 500"),
                                                  (3, "lucid", 8, 64, "lucid is not in the list of choices"),
                                                  (3, "maco", 4, 64, "Value 4 is less than minimum value 8.")):
        with pytest.raises(Exception, match=re.escape(message)):
            client.predict(*base, channel, method, steps, size, "", "", api_name="/channel_visualize")
    with pytest.raises(Exception, match="no block 'layer9.0' in this model"):
        client.predict("resnet18", None, "random", "cpu", "own", "layer9.0", 0, "maco", 8, 64, "", "",
                       api_name="/channel_page")


class _Stop(Exception):
    pass


def _atlas_job(striped: dict, tmp_path: Path, out: str, **kw):
    from explorer.visualize.atlas import AtlasJob

    path = tmp_path / "stripes.th"
    if not path.exists():
        torch.save(striped["model"].state_dict(), path)
    return AtlasJob(parse_spec("cifar:1-1-1:c2"), "file", str(path), ("layer1.0",), Settings(steps=6, size=32),
                    tmp_path / out, shard=4, **kw)


def test_an_atlas_continues_where_it_stopped(striped: dict, tmp_path: Path) -> None:
    """16 channels in 4 shards: stopped after 2, run again, it paints the other 2; every picture equals an atlas
    painted in one go (a picture's seed is its own), and the model's own hook agrees with its numbers."""
    from explorer.visualize.atlas import run_atlas

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise _Stop

    with pytest.raises(_Stop):
        run_atlas(_atlas_job(striped, tmp_path, "atlas"), stop_after_two)
    assert len(list((tmp_path / "atlas" / "shards").glob("*.json"))) == 2
    resumed = run_atlas(_atlas_job(striped, tmp_path, "atlas"))
    whole = run_atlas(_atlas_job(striped, tmp_path, "whole"))
    assert resumed["resumed_from"] == 2 and whole["resumed_from"] == 0 and resumed["shards"] == 4
    assert [p["channel"] for p in resumed["pictures"]] == list(range(16))
    for a, b in zip(resumed["pictures"], whole["pictures"]):
        assert a == b
        assert np.array_equal(np.asarray(Image.open(tmp_path / "atlas" / a["file"])),
                              np.asarray(Image.open(tmp_path / "whole" / b["file"])))
    first = resumed["pictures"][5]
    x = torch.from_numpy(np.asarray(Image.open(tmp_path / "atlas" / first["file"]))).permute(2, 0, 1)[None] / 255
    own = _block_means(striped["model"], striped["model"].layer1[0], _normalised(x))
    assert first["mean"] == pytest.approx(float(own[0, 5]), rel=1e-4, abs=1e-5)
    from explorer.visualize.atlas import AtlasError

    with pytest.raises(AtlasError, match="holds an atlas with another settings"):
        run_atlas(dataclasses.replace(_atlas_job(striped, tmp_path, "atlas"), settings=Settings(steps=7, size=32)))


def test_an_atlas_on_a_two_node_ray_cluster(striped: dict, tmp_path: Path) -> None:
    """The same atlas on Ray actors spread over a real two-node cluster: the same pictures as the local engine, up
    to float rounding (an actor's torch runs on its own thread count, which orders its sums otherwise)."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from explorer.visualize.atlas import run_atlas

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    ray.init(address=c.address, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        remote = run_atlas(_atlas_job(striped, tmp_path, "ray", engine="ray", ray_address=c.address))
    finally:
        ray.shutdown()
        c.shutdown()
    local = run_atlas(_atlas_job(striped, tmp_path, "local"))
    assert remote["engine"] == "ray" and remote["shards"] == 4
    for a, b in zip(remote["pictures"], local["pictures"]):
        assert a["file"] == b["file"] and a["mean"] == pytest.approx(b["mean"], rel=1e-2, abs=1e-4)
        diff = np.abs(np.asarray(Image.open(tmp_path / "ray" / a["file"])).astype(int)
                      - np.asarray(Image.open(tmp_path / "local" / b["file"])).astype(int))
        assert diff.max() <= 3 and diff.mean() < 0.5, (a["file"], diff.max(), diff.mean())


def test_pictures_are_kept_by_their_weights_and_a_folder_gives_its_spectrum(striped: dict, tmp_path: Path) -> None:
    from explorer.visualize.kept import Kept, weights_digest
    from explorer.visualize.spectrum import folder_magnitude

    model = build(parse_spec("cifar:1-1-1:c2")).eval()
    model.load_state_dict(striped["model"].state_dict())
    digest = weights_digest(model)
    assert digest == weights_digest(striped["model"])  # the same tensors, another module
    kept, s = Kept(size=2), Settings(steps=8, size=32)
    kept.put(Kept.key(model, (MEAN, STD), "layer1.0", 3, s), ["picture"])
    assert kept.get(Kept.key(striped["model"], (MEAN, STD), "layer1.0", 3, s)) == ["picture"]
    assert kept.get(Kept.key(model, (MEAN, STD), "layer1.0", 3, Settings(steps=9, size=32))) is None
    with torch.no_grad():
        model.layer1[0].conv1.weight[0, 0, 0, 0] += 1  # a changed weight is another model
    assert weights_digest(model) != digest and kept.get(Kept.key(model, (MEAN, STD), "layer1.0", 3, s)) is None
    folder = tmp_path / "photos"
    _save_folder(striped["pixels"][::32], striped["labels"][::32], folder)
    files = sorted(folder.rglob("*.png"))
    own = magnitude_of([torch.from_numpy(np.asarray(Image.open(f), dtype=np.float32) / 255).permute(2, 0, 1)
                        for f in files], 32)
    assert len(files) == 4 and torch.allclose(folder_magnitude(folder, 32), own)


def test_a_device_failure_draws_on_the_cpu(striped: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback the feature maps have: a device error on the first try redraws on the CPU, with a notice, and
    the same picture as a CPU run."""
    import explorer.visualize.optimise as optimise

    real = optimise._drawn

    def failing(model, block, s, magnitude, norm, dev, *rest):
        if dev.type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(model, block, s, magnitude, norm, dev, *rest)

    monkeypatch.setattr(optimise, "resolve_device", lambda d: torch.device("cuda"))
    monkeypatch.setattr(optimise, "_drawn", failing)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    s = Settings(steps=4, size=32)
    (p,) = visualize(striped["model"], "layer1.0", [2], s, MEAN, STD, device="cuda")
    assert p.device == "cpu" and p.notice == ("CUDA failed (CUDA out of memory. Tried to allocate 2.00 GiB); drawn on "
                                              "the CPU instead")
    monkeypatch.undo()
    (q,) = visualize(striped["model"], "layer1.0", [2], s, MEAN, STD, device="cpu")
    assert np.array_equal(p.pixels, q.pixels) and not q.notice


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_a_picture_on_cuda_matches_the_cpus(striped: dict) -> None:
    s = Settings(method="fourier", steps=8, size=32)
    (g,) = visualize(striped["model"], "layer1.0", [2], s, MEAN, STD, device="cuda")
    (c,) = visualize(striped["model"], "layer1.0", [2], s, MEAN, STD, device="cpu")
    assert g.device == "cuda" and np.abs(g.pixels.astype(int) - c.pixels.astype(int)).max() <= 2
    assert next(striped["model"].parameters()).device.type == "cpu"  # the model went back where it was


def test_the_relu_warm_up_lets_a_dead_picture_move() -> None:
    """Lucid's redirected ReLU: where a picture's ordinary gradient through a ReLU is all zero, the gradient that
    would raise a negative input goes through; elsewhere the ordinary one. In place or not (``nn.ReLU(True)``)."""
    from torch import nn

    from explorer.visualize.relu import RedirectedRelu

    x = -torch.rand(2, 3, 4, 4) - 0.1
    x[1] += 2  # picture 0: every input negative (a dead start); picture 1: every input positive
    for relu in (torch.relu, nn.ReLU(inplace=True)):
        leaf = x.clone().requires_grad_(True)
        with RedirectedRelu():
            out = relu(leaf * 1.0)
        (-out.sum()).backward()
        assert torch.equal(leaf.grad, -torch.ones_like(x))  # both move: picture 0 by the redirected gradient
        plain = x.clone().requires_grad_(True)
        (-relu(plain * 1.0).sum()).backward()
        assert plain.grad[0].abs().sum() == 0 and torch.equal(plain.grad[1], leaf.grad[1])
