"""The README's picture of the Dataset tab (``docs/images/dataset_tab.png``), made the way a user makes it:
the real app in headless Chromium, the example photos (and their mirror images and crops) uploaded, a run, a
channel picked from the table, its dataset examples shown. Needs the test setup (``scripts/setup.sh --test``).

    .venv/bin/python scripts/readme_dataset_view.py [--out docs/images/dataset_tab.png]
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


def _photos(folder: Path) -> list[Path]:
    """The example photos, each as itself, mirrored, and two crops: a dozen images of a few subjects."""
    out = []
    for src in sorted((ROOT / "resnet_explorer" / "assets" / "examples").glob("*.jpg")):
        im = Image.open(src).convert("RGB")
        w, h = im.size
        for tag, view in (("", im), ("mirrored", ImageOps.mirror(im)),
                          ("left", im.crop((0, 0, w * 2 // 3, h))), ("centre", im.crop((w // 6, h // 6, w * 5 // 6, h * 5 // 6)))):
            path = folder / f"{src.stem}{'-' + tag if tag else ''}.jpg"
            view.save(path, quality=92)
            out.append(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "dataset_tab.png")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
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
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
                page.goto(url)
                expect(page.locator("#totals")).to_contain_text("16 blocks", timeout=60_000)
                page.get_by_role("tab", name="Dataset").click()
                page.locator("#ds-upload input[type=file]").set_input_files([str(p) for p in photos])
                page.locator("#ds-top-k input[type=number]").fill("6")
                page.locator("#ds-top-k input[type=number]").press("Enter")
                page.locator("#ds-run").click()
                expect(page.locator("#ds-summary")).to_contain_text(f"over {len(photos)} images", timeout=300_000)
                page.locator("#ds-block input").fill("layer4.2")
                page.locator("#ds-block input").press("Enter")
                expect(page.locator("#ds-plot")).to_contain_text("layer4.2", timeout=60_000)
                page.locator("#ds-channels [role=row]").nth(2).locator("[role=gridcell]").first.click()
                expect(page.locator("#ds-examples img")).to_have_count(6, timeout=60_000)
                page.wait_for_timeout(1500)  # (the plot's and the gallery's images painted)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                top = page.locator("#ds-summary").bounding_box()  # from the run's summary to the examples' row
                last = page.locator("#ds-examples img").last.bounding_box()
                scroll = page.evaluate("window.scrollY")
                page.screenshot(path=str(args.out), full_page=True,
                                clip={"x": 0, "y": top["y"] + scroll - 8, "width": page.viewport_size["width"],
                                      "height": last["y"] + last["height"] - top["y"] + 40})
                browser.close()
        finally:
            demo.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
