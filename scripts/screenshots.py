"""The pictures in docs/ (and the README's), made the way a visitor sees the app: the real app in headless
Chromium at 1440×900, each tab's first screen as it opens; a block selected with the inspector open; the Dataset
tab after a run over the example photos (and their mirror images and crops), one channel's dataset examples
shown. Needs the test setup (``scripts/setup.sh --test``); rerun it after changing a view.

    .venv/bin/python scripts/screenshots.py [--out docs/images] [--size 1440x900]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
TABS = {"graph": ("Graph", "#graph svg g.node"), "tables": ("Tables", "#block-table [role=gridcell]"),
        "structure": ("Channels & structure", "#channel-plot .js-plotly-plot"),
        "compare": ("Compare", "#compare-channels .js-plotly-plot"), "features": ("Feature maps", "#fm-grid img")}


def _photos(folder: Path) -> list[Path]:
    """The example photos, each as itself, mirrored, and two crops: a dozen images of a few subjects."""
    out = []
    for src in sorted((ROOT / "resnet_explorer" / "assets" / "examples").glob("*.jpg")):
        im = Image.open(src).convert("RGB")
        w, h = im.size
        for tag, view in (("", im), ("mirrored", ImageOps.mirror(im)), ("left", im.crop((0, 0, w * 2 // 3, h))),
                          ("centre", im.crop((w // 6, h // 6, w * 5 // 6, h * 5 // 6)))):
            path = folder / f"{src.stem}{'-' + tag if tag else ''}.jpg"
            view.save(path, quality=92)
            out.append(path)
    return out


def tabs(page, out: Path, expect) -> None:
    """Each tab's first screen, and the inspector opened on a block."""
    for name, (label, ready) in TABS.items():
        page.get_by_role("tab", name=label).click()
        expect(page.locator(ready).first).to_be_visible(timeout=120_000)
        page.wait_for_timeout(1200)  # (plots' transitions, images painted)
        page.screenshot(path=str(out / f"tab_{name}.png"))
    page.get_by_role("tab", name="Graph").click()
    node = page.locator("#graph svg g.node").filter(has=page.locator("title", has_text="layer2.0")).first
    node.scroll_into_view_if_needed()
    node.click()
    expect(page.locator("#inspector-facts")).to_contain_text("layer2.0 · Bottleneck", timeout=60_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(out / "inspector.png"))
    page.locator("#inspector-close").click()


def dataset(page, out: Path, photos: list[Path], expect) -> None:
    """A run over the photos with every block lesioned, then one channel's examples: the tab's first screen,
    and the README's picture from the run's summary to the examples."""
    page.get_by_role("tab", name="Dataset").click()
    page.locator("#ds-upload input[type=file]").set_input_files([str(p) for p in photos])
    page.locator("#ds-top-k input[type=number]").fill("6")
    page.locator("#ds-top-k input[type=number]").press("Enter")
    page.locator("#ds-lesion input").check()
    page.locator("#ds-run").click()
    expect(page.locator("#ds-summary")).to_contain_text(f"over {len(photos)} images", timeout=600_000)
    page.locator("#ds-block input").fill("layer4.2")
    page.locator("#ds-block input").press("Enter")
    expect(page.locator("#ds-plot")).to_contain_text("layer4.2", timeout=60_000)
    page.locator("#ds-channels [role=row]").nth(2).locator("[role=gridcell]").first.click()
    expect(page.locator("#ds-examples img")).to_have_count(6, timeout=60_000)
    page.wait_for_timeout(1500)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "tab_dataset.png"))
    top = page.locator("#ds-summary").bounding_box()
    last = page.locator("#ds-examples img").last.bounding_box()
    scroll = page.evaluate("window.scrollY")
    page.screenshot(path=str(out / "dataset_tab.png"), full_page=True,
                    clip={"x": 0, "y": top["y"] + scroll - 8, "width": page.viewport_size["width"],
                          "height": last["y"] + last["height"] - top["y"] + 40})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--size", default="1440x900", help="the window, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    sys.path.insert(0, str(ROOT))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GRADIO_TEMP_DIR"] = str(Path(tmp) / "gradio")
        photos = _photos(Path(tmp))
        from playwright.sync_api import expect, sync_playwright

        from resnet_explorer.page import build_demo, launch_options

        demo = build_demo()
        demo.queue(default_concurrency_limit=2)
        _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
                page.goto(url)
                expect(page.locator("#selection")).to_contain_text("layer1.0", timeout=120_000)
                page.wait_for_timeout(800)
                tabs(page, args.out, expect)
                dataset(page, args.out, photos, expect)
                browser.close()
        finally:
            demo.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
