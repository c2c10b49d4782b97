"""Lesion lab (#24): a block removed (its branch set to zero) and what the output loses, against the test's own
computation (a hook that zeroes the branch's last layer, the model run from scratch, numpy); the k-removal draws
from their seed; the cached-prefix replays against replays from op 0 on torchvision, timm and a functional
ResNet; a ResNet trained here on a generated labelled folder, through the library, the CLI and the app
(gradio_client and Chromium)."""
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
from playwright.sync_api import expect
from torch import nn
from training import fit, hooked_output

from explorer.dataset import DatasetError, DatasetJob, run_dataset
from explorer.dataset.folder import decode, list_images, to_batch
from explorer.lesion import draws, lesion_batch, lesioned_forward, path_lengths
from explorer.lesion.measure import _full, _lesioned_logits, _replay
from explorer.lesion.plan import lesion_plan_for
from explorer.lesion.study import Study
from resnet import Preprocess, build, parse_spec

ROOT = Path(__file__).resolve().parent.parent
PRE = Preprocess(32, 32)
SPEC = "basic:1-1-1-1:c3"  # four blocks, three of them downsampling
COLORS = ((1.0, 0.2, 0.2), (0.2, 1.0, 0.2), (0.2, 0.2, 1.0))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder of three classes (a colour each, under noise), named 0, 1, 2, and a ResNet trained on it."""
    root = tmp_path_factory.mktemp("lesion")
    rng = np.random.default_rng(0)
    for c, color in enumerate(COLORS):
        (root / "images" / str(c)).mkdir(parents=True)
        for i in range(12):
            a = np.clip(rng.normal(0.45, 0.25, (36, 36, 3)) * np.array(color) * 1.4, 0, 1)
            Image.fromarray((a * 255).astype(np.uint8)).save(root / "images" / str(c) / f"{i:02d}.png")
    images = list_images(root / "images")
    x = to_batch([decode(images.root, f, PRE)[0] for f in images.files], PRE)
    y = torch.tensor(images.labels)
    torch.manual_seed(0)
    model = fit(build(parse_spec(SPEC)), x, y, steps=80)
    torch.save(model.state_dict(), root / "trained.pt")
    return root / "images", root / "trained.pt"


def _model(ckpt: Path) -> nn.Module:
    model = build(parse_spec(SPEC))
    model.load_state_dict(torch.load(ckpt, weights_only=True))
    return model.eval()


def _blocks(model: nn.Module) -> list[nn.Module]:
    return [getattr(model, f"layer{s}")[0] for s in range(1, 5)]


def _reference(model: nn.Module, x: torch.Tensor, removed: tuple[int, ...]) -> torch.Tensor:
    """The model from scratch with the removed blocks' last branch layer (bn2) answering zeros."""
    return hooked_output(model, x, [(_blocks(model)[j].bn2, lambda _m, _i, o: torch.zeros_like(o)) for j in removed])


def _kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> np.ndarray:
    p = torch.softmax(p_logits.double(), 1).numpy()
    q = torch.softmax(q_logits.double(), 1).numpy()
    return (p * (np.log(p) - np.log(q))).sum(1)


def test_each_block_and_each_draw_against_the_model_run_from_scratch(trained, tmp_path: Path) -> None:
    folder, ckpt = trained
    study = Study(remove_k=3, repeats=2, seed=5)
    summary = run_dataset(DatasetJob(parse_spec(SPEC), folder, tmp_path / "run", "file", str(ckpt), PRE, top_k=2,
                                     batch_size=8, workers=0, lesion=study))
    run_dataset(DatasetJob(parse_spec(SPEC), folder, tmp_path / "plain", "file", str(ckpt), PRE, top_k=2,
                           batch_size=8, workers=0))  # the statistics come from the study's taped forward too
    for name in ("channels.csv", "top.csv"):
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    import pandas as pd

    table = pd.read_csv(tmp_path / "run" / "lesion.csv")
    drawn = pd.read_csv(tmp_path / "run" / "lesion_k.csv")
    model, images = _model(ckpt), list_images(folder)
    y = np.array(images.labels)
    batches = [to_batch([decode(images.root, f, PRE)[0] for f in images.files[i:i + 8]], PRE)
               for i in range(0, len(images.files), 8)]  # the run's shards
    full = torch.cat([_reference(model, b, ()) for b in batches])
    assert summary["accuracy"] == pytest.approx((full.argmax(1).numpy() == y).mean(), abs=1e-12)
    assert summary["accuracy"] >= 0.9, "the trained model should classify its own colours"
    assert summary["labels"] == "class folders named by class index" and summary["labelled"] == len(y)
    assert list(table["block"]) == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    assert list(table["projection"]) == [0, 1, 1, 1]
    for j, row in table.iterrows():
        lesioned = torch.cat([_reference(model, b, (j,)) for b in batches])
        top = lesioned.argmax(1).numpy()
        assert row["accuracy"] == pytest.approx((top == y).mean(), abs=1e-9)
        assert row["agreement"] == pytest.approx((top == full.argmax(1).numpy()).mean(), abs=1e-9)
        assert row["kl"] == pytest.approx(_kl(full, lesioned).mean(), rel=1e-6, abs=1e-12)
    expected = draws([False, True, True, True], 3, 2, 5)
    assert [(k, d) for k, d, _ in expected] == list(zip(drawn["k"], drawn["draw"]))
    for (k, d, chosen), (_, row) in zip(expected, drawn.iterrows()):
        assert row["blocks"].split() == [table["block"][j] for j in chosen] and len(chosen) == k
        lesioned = torch.cat([_reference(model, b, chosen) for b in batches])
        assert row["accuracy"] == pytest.approx((lesioned.argmax(1).numpy() == y).mean(), abs=1e-9)
        assert row["kl"] == pytest.approx(_kl(full, lesioned).mean(), rel=1e-6, abs=1e-12)
    # the magnitude proxy: ‖F(x)‖ / ‖shortcut(x)‖ per image, from the test's own hooks on the blocks
    seen: dict[int, list] = {}
    hooks = [b.bn2.register_forward_hook(lambda _m, _i, o, j=j: seen.setdefault(j, []).append(o.flatten(1).norm(dim=1)))
             for j, b in enumerate(_blocks(model))]
    shortcuts = [b.downsample or nn.Identity() for b in _blocks(model)]
    with torch.no_grad():
        for b in batches:
            model(b)
    for h in hooks:
        h.remove()
    inputs: dict[int, list] = {}
    hooks = [blk.register_forward_pre_hook(lambda _m, a, j=j: inputs.setdefault(j, []).append(a[0])) for j, blk in
             enumerate(_blocks(model))]
    with torch.no_grad():
        for b in batches:
            model(b)
        for h in hooks:
            h.remove()
        for j in range(4):
            s = torch.cat([shortcuts[j](t).flatten(1).norm(dim=1) for t in inputs[j]])
            assert table["ratio"][j] == pytest.approx(float((torch.cat(seen[j]) / s).mean()), rel=1e-5)


def test_the_draws_come_from_their_seed() -> None:
    projections = [False, False, True, False, False, True, False, False]
    a, b = draws(projections, 4, 3, seed=11), draws(projections, 4, 3, seed=11)
    assert a == b and a != draws(projections, 4, 3, seed=12)
    assert [(k, d) for k, d, _ in a] == [(k, d) for k in range(1, 5) for d in range(3)]
    assert all(len(set(c)) == k == len(c) and list(c) == sorted(c) for k, _, c in a)
    only = draws(projections, 6, 2, seed=0, pool="identity")
    assert max(k for k, _, _ in only) == 6 and all(not projections[j] for _, _, c in only for j in c)
    rng = np.random.default_rng(11)  # the documented recipe, by hand
    assert a[0][2] == tuple(sorted(int(j) for j in rng.choice(range(8), size=1, replace=False)))
    shares = path_lengths(54)
    assert sum(shares) == pytest.approx(1) and max(range(55), key=shares.__getitem__) == 27


class FunctionalResNet(nn.Module):
    """Blocks with no module of their own, the addition written as torch.add with the shortcut first."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.convs = nn.ModuleList(nn.Conv2d(8, 8, 3, padding=1) for _ in range(6))
        self.down = nn.Conv2d(8, 16, 1, stride=2)
        self.branch_down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(x))
        for i in range(0, 6, 2):
            x = F.relu(torch.add(x, self.convs[i + 1](F.relu(self.convs[i](x)))))
        x = F.relu(self.down(x) + self.branch_down(x))
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("name", ["torchvision resnet50", "timm resnet26d", "functional"])
def test_replays_from_the_cached_prefix_equal_replays_from_scratch(name: str) -> None:
    torch.manual_seed(0)
    if name.startswith("torchvision"):
        import torchvision

        model = torchvision.models.resnet50(num_classes=7)
    elif name.startswith("timm"):
        import timm

        model = timm.create_model("resnet26d", num_classes=7)
        for m in model.modules():  # timm zero-initialises each block's last BN: give the branches a say
            if isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight, 0.5, 1.5)
    else:
        model = FunctionalResNet()
    model.eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        lp = lesion_plan_for(model, x)
        run, full, _ = _full(model, x, lp, None)
        assert torch.equal(full, model(x))
        name_ = lp.plan.model_name
        for j, b in enumerate(lp.blocks):
            cached = _lesioned_logits(model, x, lp, run, (j,))
            assert lp.verified[b.lesion.op], f"{b.name}: the cut did not replay"
            assert torch.equal(cached, _replay(model, x, run, 0, {b.lesion.op: b.lesion}, name_))
            assert torch.equal(cached, lesioned_forward(model, x, [b.name]))  # what a lesion is, plainly
            assert not torch.equal(cached, full)
        pair = (0, len(lp.blocks) - 1)
        lesions = {lp.blocks[j].lesion.op: lp.blocks[j].lesion for j in pair}
        assert torch.equal(_lesioned_logits(model, x, lp, run, pair), _replay(model, x, run, 0, lesions, name_))
        assert torch.equal(_lesioned_logits(model, x, lp, run, pair),
                           lesioned_forward(model, x, [lp.blocks[j].name for j in pair]))
        assert torch.equal(lesioned_forward(model, x), full)
        with pytest.raises(KeyError, match="no block 'layer9.0'"):
            lesioned_forward(model, x, ["layer9.0"])
    if name == "functional":  # the block is act(x + 0) when removed: the test's own forward says the same
        with torch.no_grad():
            h = F.relu(model.stem(x))
            h2 = F.relu(torch.add(h, torch.zeros_like(h)))
            for i in (2, 4):
                h2 = F.relu(torch.add(h2, model.convs[i + 1](F.relu(model.convs[i](h2)))))
            h2 = F.relu(model.down(h2) + model.branch_down(h2))
            assert torch.allclose(_lesioned_logits(model, x, lp, run, (0,)), model.fc(h2.mean((2, 3))), atol=1e-6)


def test_refusals_and_resuming(trained, tmp_path: Path) -> None:
    folder, ckpt = trained
    job = lambda out="run", **kw: DatasetJob(parse_spec(SPEC), folder, tmp_path / out, "file", str(ckpt), PRE,  # noqa: E731
                                             top_k=2, batch_size=12, workers=0, **kw)
    with pytest.raises(DatasetError, match="--draw-from must be one of all, identity"):
        run_dataset(job(lesion=Study(pool="some")))
    with pytest.raises(DatasetError, match="--remove-k must be a whole number of at least 0"):
        run_dataset(job(lesion=Study(remove_k=-1)))
    first = run_dataset(job(lesion=Study(remove_k=2, repeats=1)))
    files = {n: (tmp_path / "run" / n).read_bytes() for n in ("lesion.csv", "lesion_k.csv", "channels.csv")}

    def stop(done: int, total: int) -> None:
        if done >= 12:  # after the first shard
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_dataset(job(lesion=Study(remove_k=2, repeats=1), out="again"), stop)
    again = run_dataset(job(lesion=Study(remove_k=2, repeats=1), out="again"))
    assert again["accuracy"] == first["accuracy"]
    assert {n: (tmp_path / "again" / n).read_bytes() for n in files} == files
    with pytest.raises(DatasetError, match="holds a run with another lesion"):
        run_dataset(job(lesion=Study(remove_k=2, repeats=1, seed=1)))
    with pytest.raises(ValueError, match="returns no class scores"):
        x = torch.zeros(2, 3, 32, 32)
        lesion_batch(nn.Sequential(*list(_model(ckpt).children())[:-2]), x, torch.zeros(2, dtype=torch.int64), [])


def test_the_cli_writes_the_lesion_files(trained, tmp_path: Path) -> None:
    folder, ckpt = trained
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "explorer", "dataset", SPEC, str(folder), "--weights", str(ckpt),
                        "--out", str(out), "--resize", "32", "--crop", "32", "--workers", "0", "--lesion",
                        "--remove-k", "2", "--draws", "2", "--draw-from", "identity"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "full model: top-1" in r.stdout and f"wrote {out / 'lesion.csv'}" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lesion"]["pool"] == "identity" and summary["lesion"]["projection"] == [False, True, True, True]
    import pandas as pd

    drawn = pd.read_csv(out / "lesion_k.csv")
    assert list(drawn["blocks"]) == ["layer1.0", "layer1.0"]  # the only identity block; k = 2 is not drawn
    r = subprocess.run([sys.executable, "-m", "explorer", "dataset", SPEC, str(folder), "--out", str(tmp_path / "x"),
                        "--remove-k", "2"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr == "error: --remove-k needs --lesion\n"


def test_the_lesion_views_in_the_app(client, page, trained, tmp_path: Path) -> None:
    import zipfile

    from gradio_client import handle_file

    from resnet_explorer.context import APP
    from resnet_explorer.settings import AppSettings

    folder, ckpt = trained
    archive = tmp_path / "colours.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(folder.rglob("*.png")):
            z.write(p, p.relative_to(folder).as_posix())  # 0/00.png …: the class folders are the labels
    before = APP.settings
    APP.configure(AppSettings(limits=before.limits, weights=str(ckpt)))
    try:
        out = client.predict(SPEC, [handle_file(str(archive))], None, "file", None, 2, True, 2,
                             api_name="/dataset_run")
        summary, block, channels, plot, gallery, caption, lesion, lesion_k = out
        assert "Lesions: full model top-1" in summary and lesion["visible"] is True
        figure = json.loads(lesion["value"]["plot"])
        traces = figure["data"]
        assert traces[0]["x"] == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
        assert traces[0]["marker"]["color"] == ["#1f77b4", "#ff7f0e", "#ff7f0e", "#ff7f0e"]
        import pandas as pd

        latest = max((APP.runs[n].folder for n in APP.runs), key=lambda p: p.stat().st_mtime)
        table = pd.read_csv(latest / "lesion.csv")
        assert traces[0]["y"] == pytest.approx(list(1 - table["accuracy"]))
        assert traces[1]["y"] == pytest.approx(list(table["ratio"]))
        k_fig = json.loads(lesion_k["value"]["plot"])
        assert k_fig["data"][1]["y"] == pytest.approx(path_lengths(4))
        # The page is another session: the client's run is not its to open (#33); the same files offered by
        # the server's --runs folder are everyone's.
        import shutil

        shutil.copytree(latest, tmp_path / "runs" / "colours")
        APP.configure(AppSettings(limits=before.limits, weights=str(ckpt), runs=tmp_path / "runs"))
        name = "colours"
        page.get_by_role("tab", name="Dataset").click()
        page.locator("#ds-results input").fill(name)
        page.locator("#ds-results input").press("Enter")
        page.locator("#ds-open").click()
        expect(page.locator("#ds-summary")).to_contain_text("Lesions: full model top-1", timeout=60_000)
        expect(page.locator("#ds-lesion-plot")).to_contain_text("Each block removed alone", timeout=30_000)
        expect(page.locator("#ds-lesion-plot .xtick")).to_have_count(4)
        expect(page.locator("#ds-k-plot")).to_contain_text("paths through 4 blocks")
        page.screenshot(path=str(folder.parent / "lesion_views.png"), full_page=True)
    finally:
        APP.configure(before)


def test_a_labels_file_names_the_classes(trained, tmp_path: Path) -> None:
    import shutil

    folder, ckpt = trained
    named = tmp_path / "named"
    for i, name in enumerate(("red", "green", "blue")):
        shutil.copytree(folder / str(i), named / name)
    (tmp_path / "classes.txt").write_text("red\ngreen\nblue\n")
    (tmp_path / "reversed.txt").write_text("Blue\nGreen\nRed\n")
    (tmp_path / "two.txt").write_text("red\ngreen\n")
    model, images = _model(ckpt), list_images(named)
    with torch.no_grad():
        top = model(to_batch([decode(images.root, f, PRE)[0] for f in images.files], PRE)).argmax(1).numpy()
    folder_class = {"blue": 0, "green": 1, "red": 2}  # sorted folder names
    truth = np.array([("red", "green", "blue").index(f.split("/")[0]) for f in images.files])
    for labels, expected in (("classes.txt", truth), ("reversed.txt", 2 - truth)):
        out = tmp_path / f"run_{labels[:-4]}"
        r = subprocess.run([sys.executable, "-m", "explorer", "dataset", SPEC, str(named), "--weights", str(ckpt),
                            "--out", str(out), "--resize", "32", "--crop", "32", "--workers", "0", "--lesion",
                            "--labels", str(tmp_path / labels)], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        summary = json.loads((out / "summary.json").read_text())
        assert summary["labels"] == "class folders matched by name to the class names (3 of 3)"
        assert summary["accuracy"] == pytest.approx((top == expected).mean(), abs=1e-12)
    assert folder_class  # the sorted order alone would have scored 3 folders against 3 outputs: the file decides
    r = subprocess.run([sys.executable, "-m", "explorer", "dataset", SPEC, str(named), "--weights", str(ckpt),
                        "--out", str(tmp_path / "bad"), "--resize", "32", "--crop", "32", "--lesion",
                        "--labels", str(tmp_path / "two.txt")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and r.stderr.strip().endswith("the labels file has 2 names but the model has 3 outputs")
