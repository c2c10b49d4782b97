"""The Dataset tab (#23) through the real server: a run over images uploaded as files or as a .zip with class
subfolders, a finished CLI run opened from ``--runs``, a block's channels, a channel's examples, refusals; and in
Chromium: upload a few images, run, pick a channel, see its dataset examples."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(1)
    paths = []
    for i in range(5):
        p = folder / f"picture {i}.png"
        Image.fromarray((rng.random((90, 120, 3)) * 255).astype(np.uint8)).save(p)
        paths.append(p)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 nothing")
    return [*paths, folder / "broken.jpg"]


def test_a_run_over_uploaded_images_then_its_blocks_and_channels(client, images: list[Path]) -> None:
    summary, block, channels, plot, gallery, caption, lesion, lesion_k = client.predict(
        "resnet18", [handle_file(str(p)) for p in images], None, "random", None, 4, api_name="/dataset_run")
    assert lesion["visible"] is False and "Lesions" not in summary  # no lesion study asked for
    assert "**resnet18** over **5** images of uploads" in summary and "Skipped 1 image (00005_broken.jpg: this file is not an image we can read" in summary
    assert block["value"] == "layer1.0" and len(block["choices"]) == 8
    assert len(channels["data"]) == 64 and channels["headers"][:2] == ["channel", "mean"]
    plotted = json.loads(plot["plot"])
    assert plotted["layout"]["title"]["text"].startswith("resnet18 · layer1.0: channels on 5 images")
    summary, block, channels, *_ = client.predict("layer3.1", api_name="/dataset_block")
    assert block["value"] == "layer3.1" and len(channels["data"]) == 256
    plot, gallery, caption = client.predict("layer3.1", 7, api_name="/dataset_channel")
    assert len(gallery) == 4 and "channel 7" in caption and "receptive field" in caption
    assert Image.open(gallery[0]["image"]).size == (160, 160)
    with pytest.raises(Exception, match="layer3.1 has no channel 999"):
        client.predict("layer3.1", 999, api_name="/dataset_channel")


def test_a_lesion_run_without_k_draws_no_empty_k_chart(client, images: list[Path]) -> None:
    """Each block removed alone is charted; with k = 0 no k-removal is drawn, so its chart stays hidden rather
    than shown empty (#35)."""
    *_, lesion, lesion_k = client.predict("resnet18", [handle_file(str(p)) for p in images[:2]], None, "random",
                                          None, 2, True, 0, 0, 64, api_name="/dataset_run")
    assert lesion["visible"] is True and json.loads(lesion["value"]["plot"])["data"]
    assert lesion_k["visible"] is False
    *_, lesion_k = client.predict("resnet18", [handle_file(str(p)) for p in images[:2]], None, "random", None, 2,
                                  True, 1, 0, 64, api_name="/dataset_run")
    assert lesion_k["visible"] is True and json.loads(lesion_k["value"]["plot"])["data"][0]["x"] == [1]


def test_a_run_at_a_chosen_resize_and_crop(client, images: list[Path]) -> None:
    """The preprocessing set in the tab (as the CLI's --resize/--crop): the blocks' resolutions follow the crop."""
    from resnet_explorer.context import APP

    summary, block, channels, *_ = client.predict(
        "resnet18", [handle_file(str(p)) for p in images[:2]], None, "random", None, 2, False, 0, 80, 64,
        api_name="/dataset_run")
    assert "crop 64 px" in summary and "over **2** images" in summary
    run = max((APP.runs[n].folder for n in APP.runs), key=lambda p: p.stat().st_mtime)
    made = json.loads((run / "summary.json").read_text())
    assert made["preprocessing"]["resize_size"] == 80 and made["preprocessing"]["crop_size"] == 64
    top = [line.split(",") for line in (run / "top.csv").read_text().splitlines()[1:]]
    # layer1 of a ResNet-18 is at a quarter of the crop: every maximum's position is inside 16×16
    assert {int(r[5]) for r in top if r[0] == "layer1.0"} <= set(range(16)) and max(int(r[5]) for r in top) < 16
    with pytest.raises(Exception, match="the crop must be 32 to 1024 px, got 5000"):
        client.predict("resnet18", [handle_file(str(images[0]))], None, "random", None, 2, False, 0, 0, 5000,
                       api_name="/dataset_run")
    with pytest.raises(Exception, match=r"the resize must be at least half the crop \(32\) and at most 4096 px, got 20"):
        client.predict("resnet18", [handle_file(str(images[0]))], None, "random", None, 2, False, 0, 20, 64,
                       api_name="/dataset_run")


def test_a_zip_with_class_folders_and_a_finished_cli_run(client, images: list[Path], tmp_path: Path) -> None:
    from resnet_explorer.context import APP
    from resnet_explorer.settings import AppSettings

    archive = tmp_path / "pets.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, p in enumerate(images[:4]):
            z.write(p, f"pets/{'cats' if i % 2 else 'dogs'}/{p.name}")
        z.writestr("../../escape.png", images[0].read_bytes())  # kept inside, by its name only
    summary, *_ = client.predict("resnet18", [handle_file(str(archive))], None, "random", None, 2,
                                 api_name="/dataset_run")
    assert "over **5** images" in summary
    runs = tmp_path / "runs"
    r = subprocess.run([sys.executable, "-m", "explorer", "dataset", "resnet18", str(images[0].parent), "--out",
                        str(runs / "mine"), "--top-k", "2", "--workers", "0"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-1500:]
    before = APP.settings
    APP.configure(AppSettings(limits=before.limits, runs=runs, datasets=images[0].parent))  # (its images offered)
    try:
        summary, block, channels, *_ = client.predict("mine", None, api_name="/dataset_open")
        assert "over **5** images" in summary and len(channels["data"]) == 64
        plot, gallery, caption = client.predict("layer2.0", 0, api_name="/dataset_channel")
        assert len(gallery) == 2  # the CLI's run, its images read where it read them
        with pytest.raises(Exception, match="no dataset run named 'elsewhere'"):
            client.predict("elsewhere", None, api_name="/dataset_open")
    finally:
        APP.configure(before)


def test_the_dataset_tab_in_chromium(page, images: list[Path]) -> None:
    page.get_by_role("tab", name="Dataset").click()
    page.locator("#ds-upload input[type=file]").set_input_files([str(p) for p in images[:4]])
    page.locator("#ds-run").click()
    expect(page.locator("#ds-summary")).to_contain_text("over 4 images", timeout=120_000)
    expect(page.locator("#ds-channels [role=row]").nth(2)).to_be_visible(timeout=30_000)
    page.locator("#ds-channels [role=row]").nth(3).locator("[role=gridcell]").first.click()
    expect(page.locator("#ds-caption")).to_contain_text("its top 4 images", timeout=60_000)
    expect(page.locator("#ds-examples img")).to_have_count(4, timeout=60_000)
    page.screenshot(path=str(Path(images[0].parent) / "dataset_tab.png"), full_page=True)
