"""Class activation maps (#13): Grad-CAM against Captum, the other methods against their formulas written
here independently, localisation on a network trained in the test, switching without new passes, the CLI
and the endpoints with their refusals."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import LayerGradCam
from torch import nn

from explorer.features.cam import cam_run, eigencam, gradcam, gradcam_pp, layercam, parse_target

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg"


@pytest.fixture(scope="module")
def r18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18().eval()


@pytest.mark.parametrize("block", ["layer1.1", "layer2.0", "layer3.1", "layer4.1"])
def test_gradcam_equals_captum(r18: nn.Module, block: str) -> None:
    torch.manual_seed(1)
    x = torch.randn(1, 3, 128, 128)
    run = cam_run(r18, x, target=281)
    layer = r18.get_submodule(block)
    expected = LayerGradCam(r18, layer).attribute(x, target=281, relu_attributions=True)[0, 0].detach().numpy()
    np.testing.assert_allclose(run.cam(block, "gradcam"), expected, atol=1e-5, rtol=1e-5)


def _numpy_gradcam_pp(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Chattopadhyay et al., eq. 19 with the exponential's closed form, written out channel by channel."""
    c = a.shape[0]
    cam = np.zeros(a.shape[1:])
    for k in range(c):
        g2, g3 = g[k] ** 2, g[k] ** 3
        denom = 2 * g2 + a[k].sum() * g3
        alpha = np.where(g[k] != 0, g2 / np.where(denom != 0, denom, 1e-7), 0.0)
        cam += (alpha * np.maximum(g[k], 0)).sum() * a[k]
    return np.maximum(cam, 0)


def _numpy_layercam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.maximum((np.maximum(g, 0) * a).sum(axis=0), 0)


def _numpy_eigencam(a: np.ndarray) -> np.ndarray:
    c, h, w = a.shape
    x = a.reshape(c, -1).T.astype(np.float64)
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    p = x @ vt[0]
    if p @ (a.mean(axis=0).ravel() - a.mean()) < 0:
        p = -p
    return np.maximum(p.reshape(h, w), 0)


def test_methods_equal_their_formulas_on_crafted_tensors() -> None:
    rng = np.random.default_rng(0)
    a = np.maximum(rng.normal(size=(6, 5, 7)), 0).astype(np.float32)  # post-ReLU activations
    g = rng.normal(size=(6, 5, 7)).astype(np.float32)
    g[2] = 0  # a channel with no gradient
    ta, tg = torch.from_numpy(a), torch.from_numpy(g)
    np.testing.assert_allclose(gradcam(ta, tg).numpy(), np.maximum(np.einsum("c,chw->hw", g.mean((1, 2)), a), 0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradcam_pp(ta, tg).numpy(), _numpy_gradcam_pp(a, g), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(layercam(ta, tg).numpy(), _numpy_layercam(a, g), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(eigencam(ta).numpy(), _numpy_eigencam(a), rtol=1e-4, atol=1e-5)


def test_methods_equal_their_formulas_on_a_model(r18: nn.Module) -> None:
    torch.manual_seed(2)
    run = cam_run(r18, torch.randn(1, 3, 96, 96))
    for block in ("layer2.1", "layer4.0"):
        a, g = run.activations[block].numpy(), run.gradients[block].numpy()
        np.testing.assert_allclose(run.cam(block, "gradcam++"), _numpy_gradcam_pp(a, g), rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(run.cam(block, "layercam"), _numpy_layercam(a, g), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(run.cam(block, "eigencam"), _numpy_eigencam(a), rtol=1e-3, atol=1e-5)


def test_switching_needs_no_forward_and_class_needs_only_a_backward(r18: nn.Module) -> None:
    torch.manual_seed(3)
    run = cam_run(r18, torch.randn(1, 3, 96, 96), target=5)
    calls = []
    handle = r18.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        maps = {(b, m): run.cam(b, m) for b in run.blocks for m in ("gradcam", "gradcam++", "layercam", "eigencam")}
        before = run.cam("layer4.1", "gradcam")
        run.retarget(7)
        after = run.cam("layer4.1", "gradcam")
    finally:
        handle.remove()
    assert not calls and len(maps) == 32 and run.target == 7
    assert not np.allclose(before, after)  # another class, other gradients
    assert np.allclose(run.cam("layer4.1", "eigencam"), maps["layer4.1", "eigencam"])  # gradient-free
    assert all(p.grad is None for p in r18.parameters())  # nothing accumulated on the shared model
    with pytest.raises(ValueError, match="no block named 'layer5.0'; blocks are layer1.0 … layer4.1"):
        run.cam("layer5.0")
    with pytest.raises(ValueError, match="method must be one of gradcam, gradcam\\+\\+, layercam, eigencam"):
        run.cam("layer4.1", "scorecam")
    with pytest.raises(ValueError, match="class must be an index from 0 to 999, got 1000"):
        run.retarget(1000)


def test_targets_by_name_or_index() -> None:
    names = ("tabby cat", "tiger cat", "dog")
    assert parse_target("Tiger Cat", names) == 1 and parse_target("2", names) == 2 and parse_target("", names) is None
    with pytest.raises(ValueError, match="no class named 'cat'; did you mean tabby cat, tiger cat"):
        parse_target("cat", names)


class TinyResNet(nn.Module):
    """A user's own small ResNet (torchvision's BasicBlock, our layout), fine enough for a 64 px image."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.resnet import BasicBlock

        def stage(cin: int, cout: int, stride: int) -> nn.Sequential:
            down = None if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            return nn.Sequential(BasicBlock(cin, cout, stride, down))

        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer1, self.layer2 = stage(8, 8, 1), stage(8, 16, 2)
        self.layer3, self.layer4 = stage(16, 32, 2), stage(32, 32, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _scene(rng: np.random.Generator, with_object: bool) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Plain noisy background; with_object: a bright 16×16 square somewhere."""
    img = rng.normal(0.0, 0.1, size=(3, 64, 64)).astype(np.float32)
    y, x = rng.integers(4, 44, size=2)
    if with_object:
        img[:, y:y + 16, x:x + 16] += 2.0
    return torch.from_numpy(img), (int(y), int(x), 16, 16)


def test_last_block_cam_peak_falls_inside_the_object() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = TinyResNet()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        labels = rng.integers(0, 2, size=32)
        x = torch.stack([_scene(rng, bool(lab))[0] for lab in labels])
        loss = nn.functional.cross_entropy(model(x), torch.from_numpy(labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    hits = 0
    for _ in range(10):
        img, (y, x, h, w) = _scene(rng, True)
        run = cam_run(model, img[None], target=1)
        cam = torch.from_numpy(run.cam("layer4.0", "gradcam"))[None, None]
        up = nn.functional.interpolate(cam, size=(64, 64), mode="bilinear", align_corners=False)[0, 0]
        py, px = divmod(int(up.argmax()), 64)
        hits += y - 2 <= py < y + h + 2 and x - 2 <= px < x + w + 2
    assert hits >= 9, f"the CAM peak fell inside the object in {hits} of 10 scenes"


def test_cli_cam(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "explorer", "cam", "resnet18", str(CAT), "--block", "layer3.1",
                        "--method", "layercam", "--target", "tabby", "--json", "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["model"], d["block"], d["method"], d["target"]) == ("resnet18", "layer3.1", "layercam",
                                                                   {"index": 281, "name": "tabby"})
    assert np.array(d["cam"]).shape == (14, 14) and min(min(row) for row in d["cam"]) >= 0 and len(d["top5"]) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer3.1_layercam_cam.png", "layercam_stages.png"]
    r = subprocess.run([sys.executable, "-m", "explorer", "cam", "resnet18", str(CAT), "--block", "layer7.0"],
                       cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 2 and r.stderr == "error: no block named 'layer7.0'; blocks are layer1.0 … layer4.1\n"


def test_endpoints_compute_switch_and_refuse(client) -> None:
    with pytest.raises(Exception, match="run an image first"):
        client.predict("layer4.1", "", "gradcam", 0.5, api_name="/cam")
    client.predict("resnet18", None, "cat", "random", None, "cpu", "", 16, api_name="/features")
    over, raw, strip, caption = client.predict("layer4.1", "", "gradcam", 0.5, api_name="/cam")
    assert "**gradcam** at **layer4.1**" in caption and "Random weights: the class scores" in caption
    assert Path(over).stat().st_size and Path(strip).stat().st_size
    assert json.loads(raw["plot"])["data"][0]["type"] == "heatmap"
    _, raw2, _, caption = client.predict("layer2.0", "eigencam", 0.3, api_name="/cam_view")
    assert "**eigencam** at **layer2.0**" in caption and "Same for every class" in caption
    assert json.loads(raw2["plot"])["data"][0]["z"]["shape"] == "28, 28"  # layer2.0 at its own resolution
    *_, caption = client.predict("layer2.0", "tiger cat", "gradcam", 0.3, api_name="/cam_target")
    assert "for **tiger cat** (class 282)" in caption
    for args, endpoint, message in [
        (("layer9.0", "gradcam", 0.5), "/cam_view", "no block named 'layer9.0'"),
        (("layer2.0", "zebra crossing", "gradcam", 0.5), "/cam_target", "no class named 'zebra crossing'"),
        (("layer2.0", "1000", "gradcam", 0.5), "/cam_target", "class must be an index from 0 to 999, got 1000"),
    ]:
        with pytest.raises(Exception, match=message):
            client.predict(*args, api_name=endpoint)
    assert client.predict("layer4.1", "gradcam", 0.5, api_name="/cam_view")[3]  # still serving, run kept
