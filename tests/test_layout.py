"""The first screen shows the architecture (#35), in Debian's headless Chromium at the two screens the issue names:
the landing view is the graph of the default model, its first block visible without scrolling and there as soon
as the page is served (no request answered yet); a selected block opens the inspector beside the views without
moving them; every tab's label is drawn once; no drop zone clips its text."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

SCREENS = [(1440, 900), (1280, 720)]
TABS = ["Graph", "Tables", "Channels & structure", "Compare", "Feature maps", "Dataset", "Channel pictures"]


def _open(browser, url: str, size: tuple[int, int], block_requests: bool = False):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    if block_requests:  # nothing the page asks of the server after loading it is answered
        page.route("**/gradio_api/run/**", lambda route: route.abort())
        page.route("**/gradio_api/queue/**", lambda route: route.abort())
    page.goto(url)
    page.wait_for_selector(".gradio-container")
    return page


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["x"] >= 0 \
        and box["x"] + box["width"] <= size["width"]


@pytest.mark.parametrize("size", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def test_the_landing_view_is_the_graph_with_its_first_block_on_screen(app_url: str, browser, size) -> None:
    page = _open(browser, app_url, size, block_requests=True)
    try:
        expect(page.get_by_role("tab", name="Graph")).to_have_attribute("aria-selected", "true")
        expect(page.locator("#totals")).to_contain_text("16 blocks", timeout=5_000)  # from the served page itself
        first = page.locator("#graph svg g.node").filter(has=page.locator("title", has_text="layer1.0")).first
        expect(first).to_be_visible(timeout=5_000)
        assert page.evaluate("window.scrollY") == 0 and _in_view(page, first), first.bounding_box()
        assert not page.locator("#block-table [role=row]").filter(has_text="layer1.0").count()  # a tab away
    finally:
        page.close()


@pytest.mark.parametrize("size", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def test_selecting_a_block_opens_the_inspector_beside_the_views(app_url: str, browser, size) -> None:
    page = _open(browser, app_url, size)
    try:
        expect(page.locator("#selection")).to_contain_text("layer1.0", timeout=30_000)  # the first redraw came
        facts = page.locator("#inspector-facts")
        expect(facts).not_to_be_in_viewport()  # closed at first
        graph = page.locator("#graph")
        node = page.locator("#graph svg g.node").filter(has=page.locator("title", has_text="layer2.0")).first
        node.scroll_into_view_if_needed()  # (at 720 px it may be under the fold: the click would scroll there)
        before, scrolled = graph.bounding_box(), page.evaluate("window.scrollY")
        node.click()
        expect(facts).to_contain_text("layer2.0 · Bottleneck", timeout=30_000)
        expect(facts).to_be_in_viewport()
        after = graph.bounding_box()
        assert after == before and page.evaluate("window.scrollY") == scrolled  # not pushed down, nor aside
        panel = page.locator("#inspector-panel").first
        assert panel.bounding_box()["x"] > size[0] / 2  # at the right
        page.locator("#tab-tables-button").click()  # whichever tab is open, the panel stays with the selection
        page.locator("#block-table [role=row]").filter(has_text="layer3.2").locator("[role=gridcell]").first.click()
        expect(facts).to_contain_text("layer3.2 · Bottleneck", timeout=30_000)
    finally:
        page.close()


def test_every_tab_label_is_drawn_once_and_no_drop_zone_clips(app_url: str, browser) -> None:
    page = _open(browser, app_url, SCREENS[0])
    try:
        expect(page.locator("#totals")).to_contain_text("16 blocks", timeout=30_000)
        page.locator("#open-model").click()  # the model sources, behind one control
        expect(page.locator("#checkpoint")).to_be_visible()
        for name in TABS:
            page.get_by_role("tab", name=name).click()
            page.wait_for_timeout(300)
            labels = page.locator("[role=tablist] [role=tab]").all_inner_texts()
            assert sorted(labels) == sorted(TABS), labels
            zones = page.evaluate("""() => [...document.querySelectorAll('.upload-container')]
                .filter(e => e.offsetParent).map(e => [e.closest('[id]').id, e.scrollHeight, e.clientHeight])""")
            clipped = [z for z in zones if z[1] > z[2]]
            assert not clipped, (name, clipped)
        page.get_by_role("tab", name="Graph").click()
        dpi = page.locator("#png-dpi [data-testid=block-info]").first
        assert dpi.bounding_box()["height"] < 30  # its label on one line
        assert not page.locator("#export-file").is_visible()  # no empty download box before a file
    finally:
        page.close()


def test_python_app_py_paints_the_landing_view_an_earlier_start_saved(tmp_path) -> None:
    """``python app.py`` serves its page before torch is imported; what it shows first is the render the previous
    start saved (its totals and graph in the served page itself), and the first start ever says it is drawing."""
    import time

    import httpx

    from benchmarks.load import _free_port, start_server

    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    saved = tmp_path / "cache" / "resnet-explorer" / "landing-resnet50-224.json"

    def first_values(port: int) -> dict:
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=30).json()
        return {c["props"].get("elem_id"): c["props"].get("value") for c in config["components"] if "props" in c}

    port = _free_port()
    proc = start_server(port, env=env)
    try:
        values = first_values(port)
        assert "Drawing the architecture of resnet50" in values["graph"] and "16 blocks" not in values["totals"]
        deadline = time.time() + 240
        while not saved.is_file() and time.time() < deadline:  # saved once torch is loaded and the presets warm
            time.sleep(0.5)
        assert saved.is_file()
    finally:
        proc.terminate()
        proc.wait(30)
    port = _free_port()
    proc = start_server(port, env=env)
    try:
        values = first_values(port)
        assert "**16 blocks**" in values["totals"] and "<svg" in values["graph"]
        assert ">layer1.0<" in values["graph"] and ">layer4.2<" in values["graph"]
    finally:
        proc.terminate()
        proc.wait(30)
