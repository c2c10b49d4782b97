"""The page in Debian's headless Chromium, driven by Playwright."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect


def test_switch_resnet50_to_resnet101_grows_layer3(app_url: str, browser) -> None:
    page = browser.new_page()
    try:
        page.goto(app_url)
        page.wait_for_selector(".gradio-container")
        totals = page.locator("#totals")
        expect(totals).to_contain_text("layer3: Bottleneck ×6", timeout=30_000)
        expect(totals).to_contain_text("16 blocks")
        page.get_by_role("tab", name="Tables").click()  # the graph leads; the tables are one tab away
        stage_table = page.locator("#stage-table")
        expect(stage_table.get_by_text("layer3", exact=True)).to_be_visible()

        page.locator("#preset input").click()
        page.get_by_role("option", name="ResNet-101", exact=True).click()

        expect(totals).to_contain_text("layer3: Bottleneck ×23", timeout=30_000)
        expect(totals).to_contain_text("33 blocks")
        layer3_row = stage_table.get_by_role("row").filter(has_text="layer3 ")
        expect(layer3_row.get_by_role("gridcell").nth(2)).to_have_text("23")
        expect(page.locator("#block-table")).to_contain_text("layer3.0")
    finally:
        page.close()


def test_custom_mode_invalid_then_recovers(app_url: str, browser) -> None:
    page = browser.new_page()
    try:
        page.goto(app_url)
        page.wait_for_selector(".gradio-container")
        spec = page.locator("#spec textarea, #spec input").first
        expect(page.locator("#totals")).to_contain_text("16 blocks", timeout=30_000)
        page.get_by_role("tab", name="Tables").click()
        page.locator("#mode").get_by_text("Custom", exact=True).click()
        expect(page.locator("#layer1-blocks")).to_be_visible()
        page.locator("#block-type").get_by_text("basic", exact=True).click()
        expect(page.locator("#totals")).to_contain_text("BasicBlock ×3", timeout=30_000)
        expect(spec).to_have_value("resnet34")  # the spec follows the controls
        groups = page.locator("#groups input[type=number]")
        groups.fill("4")
        groups.press("Enter")
        expect(page.locator('[data-testid="toast-body"]').first).to_contain_text(
            "groups must be 1 and width_per_group 64 for the basic block", timeout=30_000)
        expect(page.locator("#block-table")).to_contain_text("layer1.0")  # the last good table stays
        expect(spec).to_have_value("resnet34")
        groups.fill("1")
        groups.press("Enter")
        page.locator("#layer3-blocks input[type=number]").fill("2")
        page.locator("#layer3-blocks input[type=number]").press("Enter")
        expect(page.locator("#totals")).to_contain_text("layer3: BasicBlock ×2", timeout=30_000)
        expect(spec).to_have_value("basic:3-4-2-3")
        # copying a preset into the custom fields
        page.locator("#preset input").click()
        page.get_by_role("option", name="ResNeXt-50 32x4d", exact=True).click()
        page.locator("#load-preset").click()
        expect(page.locator("#totals")).to_contain_text("resnext50_32x4d", timeout=30_000)
    finally:
        page.close()


def test_typed_spec_drives_every_view_and_the_controls(app_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        page.goto(app_url)
        page.wait_for_selector(".gradio-container")
        expect(page.locator("#totals")).to_contain_text("16 blocks", timeout=30_000)
        spec = page.locator("#spec textarea, #spec input").first
        spec.fill("Bottleneck:2-2-2-2:32x4d:v1")
        spec.press("Enter")
        expect(page.locator("#totals")).to_contain_text("bottleneck:2-2-2-2:32x4d:v1", timeout=30_000)
        expect(page.locator("#totals")).to_contain_text("8 blocks")
        expect(spec).to_have_value("bottleneck:2-2-2-2:32x4d:v1")  # canonical form
        expect(page.locator("#layer1-blocks")).to_be_visible()  # switched to Custom, fields filled in
        expect(page.locator("#groups input[type=number]")).to_have_value("32")
        page.get_by_role("tab", name="Channels & structure").click()
        expect(page.locator("#channel-plot .gtitle")).to_contain_text("bottleneck:2-2-2-2:32x4d:v1", timeout=30_000)
        # a typo: a clear error, everything else stays
        spec.fill("resnet5")
        spec.press("Enter")
        expect(page.locator('[data-testid="toast-body"]').first).to_contain_text("unknown model 'resnet5'",
                                                                                 timeout=30_000)
        expect(page.locator("#totals")).to_contain_text("8 blocks")
        spec.fill("resnet101")
        spec.press("Enter")
        expect(page.locator("#totals")).to_contain_text("33 blocks", timeout=30_000)
        expect(page.locator("#layer1-blocks")).to_be_hidden()  # a preset: back to Preset mode
    finally:
        page.close()


def test_graph_level_switch_and_svg_download(app_url: str, browser, tmp_path) -> None:
    page = browser.new_page(accept_downloads=True)
    try:
        page.goto(app_url)
        page.wait_for_selector(".gradio-container")
        page.get_by_role("tab", name="Graph").click()
        graph = page.locator("#graph")
        expect(graph.locator("svg g.node", has_text="layer2.0.downsample")).to_have_count(1, timeout=30_000)
        expect(graph.locator("svg g.node title", has_text=re.compile(r"^layer3\.5$"))).to_have_count(1)

        page.locator("#graph-level").get_by_text("stages", exact=False).first.click()
        expect(graph.locator("svg g.node", has_text="layer3: Bottleneck ×6")).to_have_count(1, timeout=30_000)
        expect(graph.locator("svg g.node title", has_text=re.compile(r"^layer3\.5$"))).to_have_count(0)

        # zoom controls change the viewport transform
        viewport = graph.locator(".rx-viewport")
        before = viewport.get_attribute("style")
        graph.locator('[data-zoom="in"]').click()
        expect(viewport).not_to_have_attribute("style", before or "")

        page.locator("#export-svg").click()
        row = page.locator("#export-file").get_by_role("row", name=re.compile(r"resnet50_stages\s*\.svg"))
        link = row.get_by_role("link")
        expect(link).to_be_visible(timeout=30_000)
        with page.expect_download() as info:
            link.click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        assert saved.name == "resnet50_stages.svg"
        assert b"layer3: Bottleneck" in saved.read_bytes()
    finally:
        page.close()


def test_toggle_updates_ratio_chart_and_comparison(app_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        page.goto(app_url)
        page.wait_for_selector(".gradio-container")
        page.get_by_role("tab", name="Channels & structure").click()
        plot = page.locator("#channel-plot")
        expect(plot.locator(".gtitle")).to_contain_text("resnet50: channels per block", timeout=30_000)
        expect(plot.locator(".xtick", has_text="layer3.5")).to_have_count(1)

        page.locator("#preset input").click()
        page.get_by_role("option", name="ResNet-18", exact=True).click()
        expect(plot.locator(".gtitle")).to_contain_text("resnet18: channels per block", timeout=30_000)
        expect(plot.locator(".xtick", has_text="layer3.5")).to_have_count(0)
        expect(page.locator("#stats-table")).to_contain_text("435")  # ResNet-18's receptive field

        page.get_by_role("tab", name="Compare").click()
        summary = page.locator("#compare-summary")
        expect(summary).to_contain_text("resnet18 vs resnet101", timeout=30_000)
        other = page.locator("#compare-other input")
        other.fill("basic:3-4-6-3")
        other.press("Enter")
        expect(summary).to_contain_text("resnet18 vs resnet34", timeout=30_000)  # basic:3-4-6-3 is ResNet-34
        expect(summary).to_contain_text("differ in layer1 (2 vs 3 blocks)")
        expect(page.locator("#compare-costs .gtitle")).to_contain_text("resnet18 vs resnet34")
    finally:
        page.close()


def test_upload_image_shows_grid_and_bad_file_shows_error(app_url: str, browser, tmp_path) -> None:
    from PIL import Image

    good = tmp_path / "rocket.png"
    Image.open(Path(__file__).resolve().parent.parent / "resnet_explorer" / "assets" / "examples" / "rocket.jpg").save(good)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is text, not a PNG")
    page = browser.new_page(viewport={"width": 1300, "height": 1400})
    try:
        page.goto(app_url)
        page.wait_for_selector(".gradio-container")
        page.get_by_role("tab", name="Feature maps").click()
        page.locator("#fm-upload input[type=file]").set_input_files(str(bad))
        expect(page.locator('[data-testid="toast-body"]').first).to_contain_text("not an image we can read",
                                                                                 timeout=30_000)
        page.locator("#fm-upload").get_by_role("button", name=re.compile("Clear|Remove", re.I)).first.click()
        page.locator("#fm-upload input[type=file]").set_input_files(str(good))
        expect(page.locator("#fm-caption")).to_contain_text("top 16 of", timeout=60_000)
        expect(page.locator("#fm-grid img")).to_be_visible()
        expect(page.locator("#fm-notice")).to_contain_text("Random weights")
        expect(page.locator("#fm-crop img")).to_be_visible()
        # Another block from the list (labelled with its shape): its views, and the plot marks it.
        page.locator("#fm-block input").click()
        page.get_by_role("option", name=re.compile(r"layer3\.1 · 1024×14×14")).click()
        expect(page.locator("#fm-caption")).to_contain_text("layer3.1 — top 16 of 1024 channels", timeout=30_000)
        expect(page.locator("#fm-network .shapelayer path")).to_have_count(3)
    finally:
        page.close()


def test_batch_size_scales_the_memory_views(page) -> None:
    totals = page.locator("#totals")
    expect(totals).to_contain_text("training activations 82.1 MiB", timeout=30_000)  # ResNet-50, 1 image
    page.get_by_role("tab", name="Tables").click()
    total_row = page.locator("#memory-table").get_by_role("row").filter(has_text="total")
    expect(total_row).to_contain_text("97.7 MiB")
    batch = page.locator("#batch-size input")
    batch.fill("32")
    batch.press("Enter")
    expect(totals).to_contain_text("32 images", timeout=30_000)
    expect(total_row).to_contain_text("2.56 GiB")  # training activations, 32 images
    page.get_by_role("tab", name="Channels & structure").click()
    expect(page.locator("#memory-plot")).to_contain_text("memory per part, 32 images", timeout=30_000)


def test_checkpoint_upload_switches_every_tab(page, tmp_path: Path) -> None:
    """A fine-tuned checkpoint (10 classes, DataParallel prefix, nested with its epoch) → every tab shows it."""
    import torch

    from resnet import build, parse_spec

    state = {f"module.{k}": v for k, v in build(parse_spec("resnet18:c10"), init_weights=False).state_dict().items()}
    torch.save({"epoch": 4, "state_dict": state}, tmp_path / "finetuned.pth")
    page.locator("#checkpoint input[type=file]").set_input_files(str(tmp_path / "finetuned.pth"))
    expect(page.locator("#model-source")).to_contain_text(
        "from checkpoint finetuned.pth: BasicBlock 2-2-2-2, 10 classes (resnet18:c10)", timeout=60_000)
    expect(page.locator("#totals")).to_contain_text("resnet18:c10", timeout=30_000)
    expect(page.locator("#totals")).to_contain_text("output 10")
    spec = page.locator("#spec textarea, #spec input").first
    expect(spec).to_have_value("resnet18:c10")
    page.get_by_role("tab", name="Channels & structure").click()
    expect(page.locator("#channel-plot .gtitle")).to_contain_text("resnet18:c10", timeout=30_000)
    page.get_by_role("tab", name="Compare").click()
    expect(page.locator("#compare-summary")).to_contain_text("resnet18:c10", timeout=30_000)
    page.get_by_role("tab", name="Graph").click()
    expect(page.locator("#graph svg g.node", has_text="layer4.1").first).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Feature maps").click()
    expect(page.locator("#fm-notice")).to_contain_text("weights: finetuned.pth", timeout=60_000)
    expect(page.locator("#fm-predictions")).to_contain_text("class ", timeout=30_000)  # 10 outputs: indices
    page.locator("#spec textarea, #spec input").first.fill("resnet50")
    page.locator("#spec textarea, #spec input").first.press("Enter")
    expect(page.locator("#totals")).to_contain_text("16 blocks", timeout=30_000)
    expect(page.locator("#model-source")).not_to_contain_text("from checkpoint")  # no longer the checkpoint's


def test_feature_maps_tab_shows_results_when_first_opened(page) -> None:
    page.get_by_role("tab", name="Feature maps").click()
    expect(page.locator("#fm-notice")).to_contain_text("Ran on", timeout=60_000)  # no button pressed
    expect(page.locator("#fm-caption")).to_contain_text("top 16 of")


def test_timm_picker_lists_timm_on_first_open_and_applies_one(page) -> None:
    page.locator("#open-model").click()  # the sources behind one control
    picker = page.locator("#timm-arch input")
    picker.click()
    expect(page.get_by_role("option", name="resnet50d", exact=True)).to_be_visible(timeout=30_000)
    page.get_by_role("option", name="resnet50d", exact=True).click()
    expect(page.locator("#totals")).to_contain_text("timm:resnet50d", timeout=30_000)
    expect(page.locator("#spec textarea, #spec input").first).to_have_value("timm:resnet50d")
    page.get_by_role("tab", name="Tables").click()
    expect(page.locator("#block-table")).to_contain_text("2×2 avgpool s2 + 1×1 conv s1 + BN")


def test_graph_tab_style_picker_draws_the_paper_figure_and_downloads_tikz(page, tmp_path) -> None:
    page.get_by_role("tab", name="Graph").click()
    graph = page.locator("#graph")
    expect(graph.locator("svg g.node", has_text="layer2.0.downsample")).to_have_count(1, timeout=30_000)
    page.locator("#graph-level").get_by_text("layers", exact=False).first.click()
    _pick_style(page, "paper (3-D boxes, residual arcs)")
    # a paper figure draws stages or blocks: the level control follows, and the figure has one group per stage
    expect(page.locator("#graph-level input[value=stages]")).to_be_checked(timeout=30_000)
    expect(graph.locator("svg g#layer3 text")).to_contain_text(re.compile(r"layer3\s*×6"), timeout=30_000)
    expect(graph.locator("svg g#layer3 polygon").first).to_be_attached()
    page.locator("#graph-theme").get_by_text("dark", exact=True).click()
    expect(graph.locator("svg > rect").first).to_have_attribute("fill", "#1e1e1e", timeout=30_000)
    page.locator("#graph-size").get_by_text("page width", exact=True).click()
    expect(graph.locator("svg").first).to_have_attribute("width", "504pt", timeout=30_000)
    page.locator("#export-tex").click()
    link = page.locator("#export-file").get_by_role("row", name=re.compile(r"resnet50_paper_stages_dark_page\s*\.tex")) \
        .get_by_role("link")
    expect(link).to_be_visible(timeout=30_000)
    with page.expect_download() as info:
        link.click()
    saved = tmp_path / "fig.tex"
    info.value.save_as(saved)
    assert "\\begin{tikzpicture}" in saved.read_text() and "rxbottleneck" in saved.read_text()


def _pick_style(page, label: str) -> None:
    page.locator("#graph-style input").click()
    page.get_by_role("option", name=label, exact=True).click()


def _selected(page, block: str) -> None:
    expect(page.locator("#selection [data-block]")).to_have_attribute("data-block", block, timeout=30_000)
    expect(page.locator("#inspector-facts")).to_contain_text(f"{block} · Bottleneck", timeout=30_000)


def test_selecting_a_block_anywhere_selects_it_everywhere(page) -> None:
    _selected(page, "layer1.0")  # the first block until one is chosen
    page.get_by_role("tab", name="Feature maps").click()
    expect(page.locator("#fm-grid img")).to_be_visible(timeout=60_000)  # results on first open
    # a click on a graph node: the inspector, its code, the block tables and the feature-map picker follow
    page.get_by_role("tab", name="Graph").click()
    node = page.locator("#graph svg g.node", has=page.locator("title", has_text=re.compile(r"^layer3\.2$")))
    expect(node).to_have_count(1, timeout=30_000)
    node.click()
    _selected(page, "layer3.2")
    expect(node).to_have_class(re.compile(r"\brx-selected\b"))
    expect(page.locator("#inspector-code")).to_contain_text("Bottleneck(inplanes=1024, planes=256)")
    page.get_by_role("tab", name="Feature maps").click()
    expect(page.locator("#fm-block input")).to_have_value(re.compile(r"^layer3\.2\b"), timeout=30_000)
    expect(page.locator("#fm-caption")).to_contain_text("layer3.2", timeout=30_000)
    page.get_by_role("tab", name="Tables").click()
    row = page.locator("#block-table [role=row].rx-selected-row")
    expect(row).to_have_count(1, timeout=30_000)
    expect(row.locator("[role=gridcell]").first).to_have_text("layer3.2")
    # a table row selects, and the graph highlights that node
    page.locator("#block-table").get_by_role("gridcell", name="layer2.0", exact=True).click()
    _selected(page, "layer2.0")
    expect(page.locator('#block-table [role=gridcell][data-col="5"].rx-projection').first).to_be_visible()
    page.get_by_role("tab", name="Graph").click()
    layer20 = page.locator("#graph svg g.node.rx-selected title")
    expect(layer20.first).to_have_text("layer2.0", timeout=30_000)
    # a bar of the channel plot selects its block
    page.get_by_role("tab", name="Channels & structure").click()
    bars = page.locator("#channel-plot g.trace.bars").first.locator("path")
    expect(bars).to_have_count(16, timeout=30_000)
    page.locator("#inspector-close").click()  # the inspector lies over the right: closed
    expect(page.locator("#inspector-facts")).not_to_be_in_viewport()
    bars.nth(14).click(force=True, position={"x": 4, "y": 12})  # layer4.1's input-channel bar, near its top (a
    # log-scale bar's path runs far below the axis, so its centre can lie outside the plot)
    _selected(page, "layer4.1")
    expect(page.locator("#inspector-facts")).to_be_in_viewport()  # and opened again by the selection
    page.get_by_role("tab", name="Graph").click()
    expect(page.locator("#graph svg g.node.rx-selected title").first).to_have_text("layer4.1", timeout=30_000)
    # the keyboard: a graph node takes focus and Enter selects it; so does the list that stands for the graph
    layer11 = page.locator("#graph svg g.node[tabindex='0']", has=page.locator("title", has_text=re.compile(r"^layer1\.1$")))
    layer11.focus()
    page.keyboard.press("Enter")
    _selected(page, "layer1.1")
    page.locator("#graph .rx-textalt summary").click()
    page.locator('#graph .rx-textalt button[data-select="layer4.2"]').focus()
    page.keyboard.press("Enter")
    _selected(page, "layer4.2")
    # the selection survives a preset change where the block exists
    page.locator("#preset input").click()
    page.get_by_role("option", name="ResNet-101", exact=True).click()
    expect(page.locator("#totals")).to_contain_text("33 blocks", timeout=30_000)
    _selected(page, "layer4.2")


AXE_JS = Path(__file__).resolve().parent / ".cache" / "axe.min.js"


def _axe_beyond_gradio_footer(page) -> list[str]:
    """axe-core's violations on the page, minus the nodes inside Gradio's own footer (API / built-with /
    settings links, which the app does not render)."""
    page.add_script_tag(path=str(AXE_JS))
    return page.evaluate("""async () => {
        const r = await axe.run(document);
        const out = [];
        for (const v of r.violations) for (const n of v.nodes) {
            const el = document.querySelector(n.target[0]);
            if (!(el && el.closest('footer'))) out.push(`${v.id}: ${n.target.join(' ')} ${n.html.slice(0, 120)}`);
        }
        return out;
    }""")


def test_axe_finds_nothing_beyond_gradios_footer_on_every_tab(page) -> None:
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} is missing: scripts/setup.sh --test fetches axe-core from the npm registry")
    found = {}
    for tab, ready in (("Tables", "#block-table [role=gridcell]"), ("Channels & structure", "#channel-plot .js-plotly-plot"),
                       ("Compare", "#compare-channels .js-plotly-plot"), ("Feature maps", "#fm-grid img"),
                       ("Graph", "#graph svg g.node")):
        page.get_by_role("tab", name=tab).click()
        expect(page.locator(ready).first).to_be_visible(timeout=60_000)
        if tab == "Feature maps":  # every output filled: the class maps too
            page.locator("#cam-run").click()
            expect(page.locator("#cam-overlay img")).to_be_visible(timeout=60_000)
        if tab == "Graph":  # a selected node, the list that stands for the graph, and the paper figure
            page.locator("#graph svg g.node", has=page.locator("title", has_text=re.compile(r"^layer2\.0$"))).click()
            expect(page.locator("#selection [data-block]")).to_have_attribute("data-block", "layer2.0", timeout=30_000)
            page.locator("#graph .rx-textalt summary").click()
            found["Graph (blocks)"] = _axe_beyond_gradio_footer(page)
            _pick_style(page, "paper (3-D boxes, residual arcs)")
            expect(page.locator("#graph svg g#layer3").first).to_be_attached(timeout=30_000)
        page.wait_for_timeout(500)  # let the page settle (fonts, plot transitions) before measuring contrast
        found[tab] = _axe_beyond_gradio_footer(page)
    assert not any(found.values()), found


def test_every_control_is_reachable_from_the_keyboard(page) -> None:
    def walk(steps: int) -> list[str]:
        seen = []
        for _ in range(steps):
            page.keyboard.press("Tab")
            seen.append(page.evaluate("""() => { const a = document.activeElement;
                const owner = a && a.closest('[id]'); return (owner ? owner.id : '') + '|' + (a ? a.tagName : ''); }"""))
        return seen

    page.locator("#intro").click()  # start from the top of the page
    seen = walk(60)
    for control in ("mode", "preset", "spec", "input-size", "batch-size", "open-model", "tab-tables-button",
                    "tab-graph-button"):
        assert any(s.startswith(control + "|") for s in seen), (control, seen)
    # the Graph tab opened with the keyboard, and its blocks reached and selected with it
    page.locator("#tab-graph-button").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#graph svg g.node").first).to_be_visible(timeout=30_000)
    page.locator("#graph-style input").first.focus()
    seen = walk(120)
    assert any(s.endswith("|g") for s in seen), seen  # the graph's block nodes take focus (Enter selects)
    for control in ("graph-level", "graph-direction", "graph-collapse", "export-svg", "export-tex", "png-dpi"):
        assert any(s.startswith(control + "|") for s in seen), (control, seen)
