"""The paper's CIFAR family (He et al. 2016, §4.2, #36): presets with the paper's parameter counts; outputs bit-identical
to a CIFAR ResNet written here as the public CIFAR training code writes it (option A and B); a checkpoint saved the
way that code saves it opened by the library, the CLI and the app; options A, B and C told apart; the option-A
shortcut named by its ops everywhere; CIFAR-10's names; a torch.export program with static shapes (batch 2, 32 px)
run over a folder with lesions from the CLI, against the test's own hooks on the module."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from training import fit, hooked_output

import explorer
from explorer.models import open_checkpoint, own_classes, parse_model
from explorer.structure.inspector import inspect_block
from explorer.structure.tables import block_rows
from resnet import CIFAR_PRESETS, build, parse_spec

ROOT = Path(__file__).resolve().parent.parent
PAPER_PARAMS = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7,
                "resnet1202": 19.4}  # Table 6, in millions
CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEAN, STD = np.array([0.4914, 0.4822, 0.4465]), np.array([0.2470, 0.2435, 0.2616])  # CIFAR-10's training set
CLASSES = ("airplane", "bird", "cat")  # the folder's, as CIFAR-10 names them
COLORS = ((0.2, 0.4, 1.0), (1.0, 0.8, 0.2), (0.9, 0.3, 0.3))


# ---- the public CIFAR code (akamaster/pytorch_resnet_cifar10), written out here ---------------------------------

class LambdaLayer(nn.Module):
    def __init__(self, lambd):
        super().__init__()
        self.lambd = lambd

    def forward(self, x):
        return self.lambd(x)


class PublicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, option: str = "A") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            if option == "A":
                self.shortcut = LambdaLayer(
                    lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0))
            elif option == "B":
                self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                                              nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class PublicResNet(nn.Module):
    def __init__(self, n: int, num_classes: int = 10, option: str = "A") -> None:
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, n, 1, option)
        self.layer2 = self._make_layer(32, n, 2, option)
        self.layer3 = self._make_layer(64, n, 2, option)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight)

    def _make_layer(self, planes: int, n: int, stride: int, option: str) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(PublicBlock(self.in_planes, planes, s, option))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


def _randomise_bn(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                for t, lo, hi in ((m.weight, 0.5, 1.5), (m.bias, -0.2, 0.2), (m.running_mean, -0.2, 0.2),
                                  (m.running_var, 0.5, 2.0)):
                    t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)
    return model.eval()


def _blocks(model: nn.Module) -> list[nn.Module]:
    return [b for s in (model.layer1, model.layer2, model.layer3) for b in s]


# ---- presets and numerics --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CIFAR_PRESETS)
def test_presets_have_the_papers_parameter_counts(name: str) -> None:
    config = parse_spec(name)
    n = (config.depth - 2) // 6
    assert config.layers == (n, n, n) and config.shortcut == "A" and config.num_classes == 10
    params = sum(p.numel() for p in build(config, device="meta").parameters())
    digits = 2 if PAPER_PARAMS[name] < 1 else 1
    assert round(params / 1e6, digits) == PAPER_PARAMS[name]
    with torch.device("meta"):  # the same count as the public code's (on the meta device: resnet1202 is large)
        public = PublicResNet(n)
    assert sum(p.numel() for p in public.parameters()) == params


@pytest.mark.parametrize("option", ["A", "B"])
def test_outputs_are_bit_identical_to_the_public_code(option: str) -> None:
    torch.manual_seed(1)
    public = _randomise_bn(PublicResNet(5, option=option), 1)
    ours = build(parse_spec("resnet32" + ("" if option == "A" else ":optb"))).eval()
    assert list(ours.state_dict()) == list(public.state_dict())  # same keys, same order: shortcut.0/1, linear
    ours.load_state_dict(public.state_dict(), strict=True)
    x = torch.randn(6, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ours(x), public(x))


def test_specs_read_and_refuse() -> None:
    for text in ("resnet56", "resnet56:optb", "resnet110:c100", "cifar:2-3-4:w32:optc:c7", "cifar:9-9-9"):
        config = parse_spec(text)
        assert parse_spec(config.spec) == config and config.cifar
    assert parse_spec("cifar:9-9-9").spec == "resnet56"
    assert parse_spec("resnet56:optc").stage_widths == (16, 32, 64)
    for bad, says in (("cifar:9-9", "three numbers like 9-9-9"), ("resnet50:opta", "the ImageNet family is "),
                      ("cifar:1-1-1:w0", "base_width must be from 1"), ("cifar:1-1-1:32x4d", "groups must be 1")):
        with pytest.raises(ValueError, match=says):
            parse_spec(bad)


# ---- checkpoints ---------------------------------------------------------------------------------------------------

def _save_like_public_code(model: nn.Module, path: Path) -> Path:
    """As the public training script does: DataParallel's state dict in a dict with the epoch and best top-1."""
    torch.save({"epoch": 182, "state_dict": nn.DataParallel(model).state_dict(), "best_prec1": 91.25}, path)
    return path


@pytest.mark.parametrize("option,spec,says", [("A", "resnet20", "option A shortcuts (subsample + zero-pad)"),
                                               ("B", "resnet20:optb", "option B shortcuts"),
                                               ("C", "resnet20:optc", "option C shortcuts")])
def test_checkpoints_open_as_their_architecture(option: str, spec: str, says: str, tmp_path: Path) -> None:
    torch.manual_seed(2)
    if option == "C":  # the public code has no option C: ours, saved the same way
        model = _randomise_bn(build(parse_spec(spec)), 2)
    else:
        model = _randomise_bn(PublicResNet(3, option=option), 2)
    opened = open_checkpoint(_save_like_public_code(model, tmp_path / "model_best.th"))
    assert opened.model == parse_spec(spec) and opened.model.spec == spec
    assert f"CIFAR ResNet-20, {says}" in opened.notice and "10 classes" in opened.notice
    from resnet import load_weights

    mine = load_weights(build(opened.model, init_weights=False), opened.path).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(mine(x), model(x))


def test_the_cli_summary_of_a_checkpoint(tmp_path: Path) -> None:
    path = _save_like_public_code(_randomise_bn(PublicResNet(9), 3), tmp_path / "resnet56.th")
    r = subprocess.run([sys.executable, "-m", "explorer", "summary", str(path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "CIFAR ResNet-56, option A shortcuts" in r.stdout and "(resnet56)" in r.stdout
    assert "3×32×32 → 16×32×32" in r.stdout  # 32 px unless told otherwise
    assert "subsample s2 + zero-pad 16→32 channels (option A)" in r.stdout
    assert "LambdaLayer" not in r.stdout


# ---- option A by its ops --------------------------------------------------------------------------------------------

def _option_a_views(t: explorer.Trace) -> None:
    rows = {r[0]: r for r in block_rows(t)}
    assert rows["layer2.0"][5] == "subsample s2 + zero-pad 16→32 channels (option A): 16×32×32 → 32×16×16"
    assert rows["layer3.0"][5].startswith("subsample s2 + zero-pad 32→64 channels (option A)")
    assert rows["layer2.1"][5] == "identity"
    i = inspect_block(t, "layer2.0")
    assert i.title.endswith("option A shortcut")
    assert i.shortcut.startswith("option A (subsample s2 + zero-pad 16→32 channels (option A)")
    assert "no weights" in i.shortcut
    d = t.block("layer2.0").downsample
    assert d.params == 0 and d.macs == 0 and not d.projection


def test_option_a_is_named_by_its_ops_in_every_view() -> None:
    from explorer.graph.export import graph_source

    public = PublicResNet(3).eval()
    t = explorer.trace(public, input_size=32)
    assert t.config == parse_spec("resnet20") and t.model_name == "PublicResNet (like resnet20)"
    _option_a_views(t)
    ours = explorer.structure_trace(parse_spec("resnet20"), 32)
    _option_a_views(ours)
    code = inspect_block(ours, "layer2.0").code
    assert "BasicBlock(in_planes=16, planes=32, stride=2, option='A')" in code
    assert "# shortcut: subsample s2 + zero-pad 16→32 channels (option A)" in code
    from resnet.cifar import BasicBlock  # the shown constructor builds the block

    built = eval(code.splitlines()[-1], {"BasicBlock": BasicBlock})  # noqa: S307 - our own generated code
    assert {k: v.shape for k, v in built.state_dict().items()} == \
        {k: v.shape for k, v in build(parse_spec("resnet20")).layer2[0].state_dict().items()}
    for level in ("blocks", "layers"):
        dot = graph_source(parse_spec("resnet20"), 32, level)
        assert "subsample s2 + zero-pad 16→32 channels (option A)" in dot and "ZeroPadShortcut" not in dot
    # B: a projection, as before
    b = explorer.trace(PublicResNet(3, option="B").eval(), input_size=32)
    assert b.config == parse_spec("resnet20:optb") and b.block("layer2.0").downsample.kind == "1×1 conv s2 + BN"


def test_cifar_models_use_cifar_names_and_inputs() -> None:
    from explorer.models import input_size_of, own_preprocess

    assert own_classes(parse_spec("resnet56")) == CIFAR10
    assert len(own_classes(parse_spec("resnet56:c100"))) == 100 and own_classes(parse_spec("resnet56:c7")) is None
    assert own_classes(parse_model("resnet50")) is None and input_size_of(parse_spec("resnet56")) == 32
    pre = own_preprocess(parse_spec("resnet20"))
    assert (pre.resize_size, pre.crop_size) == (32, 32) and np.allclose(pre.mean, MEAN) and np.allclose(pre.std, STD)
    assert pre.normalised("imagenet").mean == (0.485, 0.456, 0.406)
    from explorer.live import register, unregister  # a live module (explorer.show) is recognised as one too

    live = register(PublicResNet(3).eval(), "mine")
    try:
        assert own_classes(live) == CIFAR10 and input_size_of(live) == 32 and own_preprocess(live).crop_size == 32
    finally:
        unregister(live)
    named = register(PublicResNet(3).eval(), "named", classes=[f"c{i}" for i in range(10)])
    try:
        assert own_classes(named)[0] == "c0"  # names given to show() win
    finally:
        unregister(named)


# ---- a trained model, its checkpoint and its static export ----------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A folder of three CIFAR-10 classes (a colour each, under noise; 5 images each: 15, an odd number), a
    public-code ResNet-20 trained on it, its checkpoint as the public script saves it, and its torch.export
    program with the default static shapes (batch 2, 32 px)."""
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    for name, color in zip(CLASSES, COLORS):
        (root / "images" / name).mkdir(parents=True)
        for i in range(5):
            a = np.clip(rng.normal(0.5, 0.2, (32, 32, 3)) * np.array(color) * 1.3, 0, 1)
            Image.fromarray((a * 255).astype(np.uint8)).save(root / "images" / name / f"{i}.png")
    files = sorted((root / "images").rglob("*.png"))
    x = torch.tensor(np.stack([(np.asarray(Image.open(f), dtype=np.float32) / 255 - MEAN) / STD for f in files]),
                     dtype=torch.float32).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([CIFAR10.index(f.parent.name) for f in files])
    torch.manual_seed(0)
    model = fit(PublicResNet(3), x, y, steps=40)
    program = torch.export.export(model, (torch.zeros(2, 3, 32, 32),))
    torch.export.save(program, root / "resnet20.pt2")
    return {"folder": root / "images", "files": files, "x": x, "y": y, "model": model,
            "checkpoint": _save_like_public_code(model, root / "checkpoint.th"), "pt2": root / "resnet20.pt2"}


def _lesioned(model: nn.Module, x: torch.Tensor, j: int | None) -> torch.Tensor:
    """The model with block ``j``'s addition returning its shortcut alone (a hook replaces its output)."""
    hooks = [] if j is None else [(_blocks(model)[j], lambda m, args, out: F.relu(m.shortcut(args[0])))]
    return hooked_output(model, x, hooks)


def test_a_static_export_runs_a_lesion_study_from_the_cli(trained, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "explorer", "dataset", str(trained["pt2"]), str(trained["folder"]),
                        "--crop", "32", "--lesion", "--out", str(out), "--workers", "0"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["batch_size"] == 2 and summary["images_used"] == 15  # the last batch padded, not counted
    assert summary["preprocessing"]["crop_size"] == summary["preprocessing"]["resize_size"] == 32
    assert summary["labels"] == "class folders matched by name to the class names (3 of 3)"
    import pandas as pd

    table = pd.read_csv(out / "lesion.csv")
    model, x, y = trained["model"], trained["x"], trained["y"].numpy()
    full = _lesioned(model, x, None)
    assert summary["accuracy"] == pytest.approx((full.argmax(1).numpy() == y).mean(), abs=1e-12)
    assert list(table["block"]) == [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(3)]
    assert list(table["projection"]) == [0, 0, 0, 1, 0, 0, 1, 0, 0]
    p = torch.softmax(full.double(), 1)
    for j, row in table.iterrows():
        lesioned = _lesioned(model, x, j)
        q = torch.softmax(lesioned.double(), 1)
        assert row["accuracy"] == pytest.approx((lesioned.argmax(1).numpy() == y).mean(), abs=1e-9)
        assert row["agreement"] == pytest.approx((lesioned.argmax(1) == full.argmax(1)).double().mean().item(), abs=1e-9)
        assert row["kl"] == pytest.approx((p * (p.log() - q.log())).sum(1).mean().item(), rel=1e-5, abs=1e-9)
    # the channel statistics count 15 images, not the padding: layer3.2's mean per channel
    seen = {}
    h = _blocks(model)[-1].register_forward_hook(lambda m, a, o: seen.__setitem__("out", o))
    with torch.no_grad():
        model(x)
    h.remove()
    channels = pd.read_csv(out / "channels.csv")
    last = channels[channels["block"] == "layer3.2"].sort_values("channel")
    assert np.allclose(last["mean"], seen["out"].mean(dim=(0, 2, 3)).numpy(), rtol=1e-4, atol=1e-6)
    # another size is refused in one line naming the one the program takes
    r = subprocess.run([sys.executable, "-m", "explorer", "summary", str(trained["pt2"]), "--input-size", "64"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "takes 32×32 px inputs" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "explorer", "summary", str(trained["pt2"])], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "subsample s2 + zero-pad 16→32 channels (option A)" in r.stdout


def test_the_library_runs_the_checkpoint_with_cifar_names(trained) -> None:
    from explorer.features.store import FeatureStore

    opened = open_checkpoint(trained["checkpoint"])
    assert opened.model == parse_spec("resnet20")
    store = FeatureStore()
    image = trained["files"][0]
    _, cap, loaded = store.run_image(opened.model, str(image), "file", str(opened.path))
    with torch.no_grad():
        expected = trained["model"](trained["x"][:1])[0]
    assert torch.allclose(torch.as_tensor(cap.logits), expected, atol=1e-5)
    from explorer.features.views import top5

    top = top5(cap, own_classes(opened.model))
    assert set(top) <= set(CIFAR10) and next(iter(top)) == CIFAR10[int(expected.argmax())]


@pytest.mark.slow
def test_the_app_opens_the_checkpoint(client, trained) -> None:
    from gradio_client import handle_file

    spec, applied, weights = client.predict(handle_file(str(trained["checkpoint"])), api_name="/open_checkpoint")
    assert spec == applied == "resnet20" and weights == "file"
    totals, _, blocks, _ = client.predict(spec, 32, api_name="/summarize")
    assert "3×32×32" in totals or "32×32" in totals
    row = next(r for r in blocks["data"] if r[0] == "layer2.0")
    assert row[5].startswith("subsample s2 + zero-pad 16→32 channels (option A)")
    result = client.predict(spec, handle_file(str(trained["files"][10])), None, "file",
                            handle_file(str(trained["checkpoint"])), "cpu", "", 16, None, api_name="/features")
    labels = [c["label"] for c in result[-1]["confidences"]]
    with torch.no_grad():
        expected = trained["model"](trained["x"][10:11])[0]
    assert set(labels) <= set(CIFAR10) and labels[0] == CIFAR10[int(expected.argmax())]


@pytest.mark.slow
def test_the_page_builds_and_shows_a_cifar_resnet(page) -> None:
    """In Chromium: a CIFAR preset picked is shown at 32 px; the custom fields are then the CIFAR family's (three
    stages, the shortcut option, the base width; ImageNet's others hidden), and option B gives its spec."""
    from playwright.sync_api import expect

    page.locator("#preset input").click()
    page.get_by_role("option", name="CIFAR ResNet-56", exact=True).click()
    expect(page.locator("#totals")).to_contain_text("27 blocks", timeout=60_000)
    expect(page.locator("#totals")).to_contain_text("input 3×32×32 → output 10")
    expect(page.locator("#input-size input[type=number]")).to_have_value("32")
    page.locator("#mode label", has_text="Custom").click()
    for shown in ("#family", "#shortcut-option", "#base-width", "#layer3-blocks"):
        expect(page.locator(shown)).to_be_visible()
    for hidden in ("#layer4-blocks", "#groups", "#width-per-group", "#stride-in", "#block-type"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#spec textarea, #spec input").first).to_have_value("resnet56")  # Custom starts from it
    page.locator("#shortcut-option label", has_text="B").click()
    expect(page.locator("#spec textarea, #spec input").first).to_have_value("resnet56:optb", timeout=30_000)
    expect(page.locator("#totals")).to_contain_text("resnet56:optb")
    page.locator("#family label", has_text="ImageNet").click()  # back: ImageNet's fields, at 224 px
    expect(page.locator("#layer4-blocks")).to_be_visible()
    expect(page.locator("#input-size input[type=number]")).to_have_value("224", timeout=30_000)
