"""Figures for papers and editable diagrams, checked with the real tools: pdflatex compiles the TikZ, pypdf
reads the PDFs, networkx reads the GraphML, the draw.io XML is walked cell by cell, and Mermaid (the npm
package) renders our Mermaid in Chromium."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pypdf import PdfReader

from explorer import structure_trace
from explorer.figures import figure
from explorer.figures.paper import SIZES, box_depth, box_height, paper_scene
from explorer.figures.scene import overlaps
from explorer.figures.svg import svg_to, to_svg
from explorer.figures.tikz import BODY_END, BODY_START
from explorer.graph.dot import SHORTCUT_EDGE
from explorer.graph.export import export_bytes, export_filename
from explorer.graph.levels import build_graph
from resnet import IMAGENET_PRESETS, get_preset

ROOT = Path(__file__).resolve().parent.parent
MERMAID_JS = ROOT / "tests" / ".cache" / "mermaid.min.js"
SVG_NS = "{http://www.w3.org/2000/svg}"
STAGES = ("layer1", "layer2", "layer3", "layer4")


def pdflatex(tex: str, folder: Path, name: str = "fig") -> PdfReader:
    """Compile ``tex`` with the real pdflatex (installed by the test set-up) and open the PDF."""
    if shutil.which("pdflatex") is None:
        pytest.fail("pdflatex is missing: scripts/setup.sh --test installs texlive-latex-base and texlive-pictures")
    (folder / f"{name}.tex").write_text(tex)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    return PdfReader(folder / f"{name}.pdf")


def pdf_text(reader: PdfReader) -> str:
    return " ".join(page.extract_text() for page in reader.pages)


# ---- the paper figure's layout ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
@pytest.mark.parametrize("size", list(SIZES))
def test_paper_layout_fits_its_width_with_no_overlapping_labels(name: str, size: str) -> None:
    t = structure_trace(get_preset(name))
    for unit in ("stages", "blocks"):
        for flat in (False, True):
            s = paper_scene(t, unit, flat=flat, size=size)
            assert s.width == pytest.approx(SIZES[size][0])
            texts = [x.bounds for x in s.texts]
            for i, a in enumerate(texts):
                assert 0 <= a[0] and a[2] <= s.width and 0 <= a[1] and a[3] <= s.height, (unit, s.texts[i])
                for j, b in enumerate(texts[i + 1:], i + 1):
                    assert not overlaps(a, b), (unit, flat, s.texts[i].lines, s.texts[j].lines)
                for box in s.boxes:
                    assert not overlaps(a, box.bounds), (unit, flat, s.texts[i].lines, box.id)
            for box in s.boxes:
                left, top, right, bottom = box.bounds
                assert 0 <= left and right <= s.width + 1e-6 and 0 <= top and bottom <= s.height
            assert min(x.size for x in s.texts) >= 5.0  # still readable when the figure had to shrink
    # valid SVG, and a PDF of one page at the figure's width whose text is text
    svg = to_svg(paper_scene(t, "blocks", size=size))
    words = " ".join(span.text for span in ET.fromstring(svg).iter(f"{SVG_NS}tspan"))
    pdf = PdfReader(io.BytesIO(svg_to(svg, "pdf")))
    assert len(pdf.pages) == 1 and float(pdf.pages[0].mediabox.width) == pytest.approx(SIZES[size][0], abs=1)
    text = pdf_text(pdf)
    for st in STAGES:
        assert st in words and st in text


def test_box_height_follows_resolution_and_depth_follows_channels() -> None:
    t = structure_trace(get_preset("resnet50"))
    s = paper_scene(t, "stages")
    first = {b.id: b for b in s.boxes}
    heights = [first[f"{st}.0"].h for st in STAGES]
    depths = [first[f"{st}.0"].w for st in STAGES]
    assert heights == sorted(heights, reverse=True) and len(set(heights)) == 4  # 56, 28, 14, 7
    assert depths == sorted(depths) and len(set(depths)) == 4  # 256 .. 2048 channels
    assert [first[f"{st}.0"].depth for st in STAGES] == pytest.approx([0.3 * h for h in heights])  # receding W
    assert all(b.depth == 0 for b in paper_scene(t, "stages", flat=True).boxes)
    # log scales: every halving of the resolution and every doubling of the channels is the same step
    assert box_height(56) - box_height(28) == pytest.approx(box_height(14) - box_height(7))
    assert box_depth(512) - box_depth(256) == pytest.approx(box_depth(2048) - box_depth(1024))


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet152", "wide_resnet101_2"])
def test_every_residual_connection_is_an_arc_and_projections_are_marked(name: str) -> None:
    t = structure_trace(get_preset(name))
    s = paper_scene(t, "blocks")
    arcs = {c.id.removesuffix(":shortcut"): c for c in s.curves if c.id.endswith(":shortcut")}
    assert set(arcs) == {b.name for b in t.blocks}
    ids = [b.id for b in s.boxes if not b.group == "legend" and ":" not in b.id]
    for b in t.blocks:
        arc = arcs[b.name]
        assert arc.kind == ("projection" if b.downsample else "identity")
        assert arc.dashed == (b.downsample is None)
        i = ids.index(b.name)
        assert (arc.source, arc.target) == (ids[i - 1], ids[i + 1])  # from the block's input to its output
        marker = [x for x in s.boxes if x.id == f"{b.name}:projection"]
        assert len(marker) == (1 if b.downsample else 0)
    stages = paper_scene(t, "stages")
    projections = [c for c in stages.curves if c.kind == "projection" and c.group in STAGES]
    assert len(projections) == sum(1 for st in t.stages if t.block(f"{st.name}.0").downsample)


def test_paper_svg_and_pdf_keep_text_as_text(tmp_path: Path) -> None:
    t = structure_trace(get_preset("resnet101"))
    for size, (width, _) in SIZES.items():
        svg = to_svg(paper_scene(t, "stages", theme="dark", size=size))
        root = ET.fromstring(svg)
        words = " ".join(span.text for span in root.iter(f"{SVG_NS}tspan"))
        for label in (*(f"{st} ×" for st in STAGES), "stem", "head", "projection shortcut"):
            assert label in words
        assert {g.get("id") for g in root.iter(f"{SVG_NS}g")} >= {*STAGES, "stem", "head"}  # one group per stage
        pdf = PdfReader(io.BytesIO(svg_to(svg, "pdf")))
        assert len(pdf.pages) == 1
        assert float(pdf.pages[0].mediabox.width) == pytest.approx(width, abs=1)
        text = pdf_text(pdf)
        for st in STAGES:
            assert st in text
    png = svg_to(svg, "png", dpi=300)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == round(504 * 300 / 72)


# ---- TikZ ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, style, level, theme, size", [
    ("resnet50", "paper", "stages", "light", "column"),
    ("resnet152", "flat", "blocks", "dark", "page"),
    ("resnext101_32x8d", "paper", "blocks", "light", "page"),
    ("resnet18", "graph", "blocks", "light", "column"),
])
def test_tikz_compiles_with_pdflatex_at_the_figures_size(tmp_path: Path, spec, style, level, theme, size) -> None:
    t = structure_trace(get_preset(spec))
    tex = figure(t, "tex", style, level, theme=theme, size=size).decode()
    assert "\\definecolor{rxprojection}{HTML}" in tex.split("\\begin{tikzpicture}")[0]  # restyle in one place
    pdf = pdflatex(tex, tmp_path)
    assert len(pdf.pages) == 1
    box = pdf.pages[0].mediabox
    w, h = (float(v) for v in re.search(r"paperwidth=([\d.]+)bp, paperheight=([\d.]+)bp", tex).groups())
    assert (float(box.width), float(box.height)) == (pytest.approx(w, abs=0.5), pytest.approx(h, abs=0.5))
    if style != "graph":
        assert w == pytest.approx(SIZES[size][0])
    text = pdf_text(pdf)
    for st in STAGES:
        assert st in text
    assert "resnet" not in tex.split(BODY_START)[0].split("\\documentclass")[1].lower()  # title only in comments


def test_tikz_body_pastes_into_a_paper(tmp_path: Path) -> None:
    tex = figure(structure_trace(get_preset("resnet34")), "tex", "paper", "stages").decode()
    body = tex.split(BODY_START)[1].split(BODY_END)[0]
    (tmp_path / "fig.tex").write_text(body)
    paper = "\n".join(["\\documentclass[twocolumn]{article}", "\\usepackage{tikz}", "\\begin{document}",
                       "Some text before the figure.", "\\begin{figure}[t]\\centering", "\\input{fig}",
                       "\\caption{ResNet-34.}\\end{figure}", "And after it.", "\\end{document}"])
    text = pdf_text(pdflatex(paper, tmp_path, "paper"))
    assert "Some text before" in text and "layer3" in text and "ResNet-34." in text


# ---- draw.io ---------------------------------------------------------------------------------------------

def drawio_cells(data: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(data)
    assert root.tag == "mxfile"
    model = root.find("diagram/mxGraphModel/root")
    cells = list(model)
    ids = [c.get("id") for c in cells]
    assert len(ids) == len(set(ids)), "cell ids are unique"
    by_id = {c.get("id"): c for c in cells}
    for c in cells[1:]:
        assert c.get("parent") in by_id, c.get("id")  # every cell hangs off the page or a group
    for c in cells:
        if c.get("edge") == "1":
            for end in ("source", "target"):
                assert c.get(end) is None or c.get(end) in by_id, (c.get("id"), end)
    return by_id


@pytest.mark.parametrize("style", ["paper", "flat"])
def test_drawio_paper_figure_has_an_editable_cell_per_stage_and_block(style: str) -> None:
    t = structure_trace(get_preset("resnet50"))
    cells = drawio_cells(figure(t, "drawio", style, "blocks"))
    for st in t.stages:
        group = cells[f"group:{st.name}"]
        assert group.get("style").startswith("group")
        label = cells[f"{st.name}:label"]
        assert label.get("parent") == f"group:{st.name}" and label.get("value").replace("\n", " ").startswith(f"{st.name} ×{st.blocks}")
    for b in t.blocks:
        cell = cells[b.name]
        assert cell.get("vertex") == "1" and cell.get("value") == b.name
        assert cell.get("parent") == f"group:{b.stage_name}"
        assert ("shape=cube" in cell.get("style")) == (style == "paper")
    boxes = [k for k, c in cells.items() if c.get("vertex") == "1" and c.get("parent", "").startswith("group:")
             and ":" not in k and not k.startswith("legend")]
    for b in t.blocks:
        edge = cells[f"{b.name}:shortcut"]
        i = boxes.index(b.name)
        assert (edge.get("source"), edge.get("target")) == (boxes[i - 1], boxes[i + 1])
        assert (f"strokeColor={SHORTCUT_EDGE}" in edge.get("style")) == (b.downsample is not None)
        assert ("dashed=1" in edge.get("style")) == (b.downsample is None)


def test_drawio_graph_style_connects_every_edge_to_its_nodes() -> None:
    t = structure_trace(get_preset("resnet18"))
    g = build_graph(t, "layers")
    cells = drawio_cells(figure(t, "drawio", "graph", "layers"))
    edges = [c for c in cells.values() if c.get("edge") == "1"]
    assert len(edges) == len(g.edges)
    io_ids = {n.id for n in g.nodes if n.kind == "io"}
    for e, cell in zip(g.edges, edges):
        assert cell.get("source") == (e.tail if e.tail not in io_ids else f"{e.tail}:text")
        assert cell.get("target") == (e.head if e.head not in io_ids else f"{e.head}:text")
        assert (cell.get("value") or "") == e.label
    for n in g.nodes:
        if n.kind not in ("io",):
            assert cells[n.id].get("value") == n.label
    assert {f"group:{b.name}" for b in t.blocks} <= set(cells)  # one group per block's cluster


MXGRAPH_JS = ROOT / "tests" / ".cache" / "mxClient.min.js"


@pytest.fixture(scope="module")
def mxgraph_page(browser):
    """A page with mxGraph, the diagram engine of draw.io (diagrams.net), loaded from the npm registry's copy."""
    if not MXGRAPH_JS.is_file():
        pytest.fail(f"{MXGRAPH_JS} is missing: scripts/setup.sh --test fetches it from the npm registry")
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.set_content("<html><body><div id='c' style='width:1200px;height:800px'></div></body></html>")
    tab.evaluate("window.mxLoadResources = false; window.mxLoadStylesheets = false; window.mxBasePath = '.';")
    tab.add_script_tag(path=str(MXGRAPH_JS))
    tab.errors = errors
    yield tab
    tab.close()


@pytest.mark.parametrize("style, level", [("paper", "blocks"), ("flat", "stages"), ("graph", "layers")])
def test_drawio_opens_in_draw_ios_engine(mxgraph_page, style: str, level: str) -> None:
    t = structure_trace(get_preset("resnet50"))
    data = figure(t, "drawio", style, level)
    cells = drawio_cells(data)
    ends = {k for k, c in cells.items() if c.get("edge") == "1" and c.get("source") and c.get("target")}
    got = mxgraph_page.evaluate("""(xml) => {
        document.getElementById('c').innerHTML = '';
        const node = mxUtils.parseXml(xml).documentElement.getElementsByTagName('mxGraphModel')[0];
        const graph = new mxGraph(document.getElementById('c'));
        new mxCodec(node.ownerDocument).decode(node, graph.getModel());
        const model = graph.getModel();
        const all = Object.values(model.cells);
        return {ids: all.map(c => c.id),
                attached: all.filter(c => model.isEdge(c) && model.getTerminal(c, true) && model.getTerminal(c, false))
                             .map(c => c.id),
                parents: Object.fromEntries(all.filter(c => c.parent).map(c => [c.id, c.parent.id])),
                values: Object.fromEntries(all.filter(c => typeof c.value === 'string').map(c => [c.id, c.value])),
                shapes: document.querySelectorAll('#c svg path, #c svg rect, #c svg ellipse').length};
    }""", data.decode())
    assert not mxgraph_page.errors, mxgraph_page.errors
    assert sorted(got["ids"]) == sorted(cells)  # every cell of the file, under its id
    assert set(got["attached"]) == ends  # every connection is attached at both ends
    assert got["shapes"] > len(cells) // 2  # and drawn
    for k, c in cells.items():
        assert got["parents"].get(k, None) == c.get("parent")
        if c.get("value"):
            assert got["values"][k] == c.get("value")
    if style != "graph":
        for b in t.blocks if level == "blocks" else ():
            assert got["parents"][b.name] == f"group:{b.stage_name}" and got["values"][b.name] == b.name


# ---- GraphML and Mermaid ---------------------------------------------------------------------------------

@pytest.mark.parametrize("level, collapse", [("stages", False), ("blocks", False), ("blocks", True), ("layers", False)])
def test_graphml_reads_back_with_networkx(level: str, collapse: bool) -> None:
    import networkx as nx

    t = structure_trace(get_preset("resnet50"))
    g = build_graph(t, level, collapse)
    d = nx.read_graphml(io.BytesIO(figure(t, "graphml", "graph", level, collapse=collapse)))
    assert d.number_of_nodes() == len(g.nodes) and d.number_of_edges() == len(g.edges)
    for n in g.nodes:
        assert d.nodes[n.id]["label"] == n.label and d.nodes[n.id]["kind"] == n.kind
    for e in g.edges:
        assert d.edges[e.tail, e.head]["kind"] == e.kind and d.edges[e.tail, e.head].get("label", "") == e.label
    parts = [n for n in ("stem", "head")] + ([s.name for s in t.stages] if level == "stages" else [])
    if level == "blocks":
        parts += [n.id for n in g.nodes if n.kind == "Bottleneck"]
    if level != "layers":  # stem, head and the stages (or blocks) add up to the model
        assert sum(d.nodes[p]["params"] for p in parts) == t.total_params
        assert sum(d.nodes[p]["macs"] for p in parts) == t.total_macs
    else:
        conv = d.nodes["layer2.0.conv2"]
        assert conv["params"] == 128 * 128 * 9 and conv["out_shape"] == "128×28×28"


def test_paper_exports_describe_the_same_structure_as_the_graph() -> None:
    import networkx as nx

    t = structure_trace(get_preset("resnet18"))
    paper = nx.read_graphml(io.BytesIO(figure(t, "graphml", "paper", "stages")))
    assert set(paper.nodes) == {n.id for n in build_graph(t, "stages").nodes}
    assert figure(t, "mermaid", "flat", "blocks").decode().count("-.->") == sum(1 for b in t.blocks
                                                                                 if not b.downsample)


MERMAID_CASES = [(name, "stages") for name in IMAGENET_PRESETS] + [(name, "blocks") for name in IMAGENET_PRESETS] + [
    ("resnet18", "layers"), ("resnet50", "layers")]


@pytest.fixture(scope="module")
def mermaid_page(browser):
    if not MERMAID_JS.is_file():
        pytest.fail(f"{MERMAID_JS} is missing: scripts/setup.sh --test fetches it from the npm registry")
    tab = browser.new_page()
    tab.set_content("<html><body><div id='out'></div></body></html>")
    tab.add_script_tag(path=str(MERMAID_JS))
    tab.evaluate("mermaid.initialize({startOnLoad: false, securityLevel: 'strict'})")
    yield tab
    tab.close()


@pytest.mark.parametrize("name, level", MERMAID_CASES)
def test_mermaid_renders_with_the_real_mermaid_library(mermaid_page, name: str, level: str) -> None:
    t = structure_trace(get_preset(name))
    text = figure(t, "mermaid", "graph", level).decode()
    assert text.startswith("```mermaid\n") and text.endswith("```\n")
    source = text.removeprefix("```mermaid\n").removesuffix("```\n")
    result = mermaid_page.evaluate("""async (src) => {
        try {
            const {svg} = await mermaid.render('m' + Math.random().toString(36).slice(2), src);
            return {svg};
        } catch (e) { return {error: String(e && e.message || e)}; }
    }""", source)
    assert "error" not in result, result.get("error")
    root = ET.fromstring(result["svg"].replace("<br>", "<br/>"))
    g = build_graph(t, level)
    nodes = [e for e in root.iter(f"{SVG_NS}g") if "node" in (e.get("class") or "").split()]
    assert len(nodes) == len(g.nodes)
    svg_text = " ".join(root.itertext())
    for block in (t.blocks[0].name, t.blocks[-1].name) if level != "stages" else STAGES:
        assert block in svg_text


# ---- every door: CLI, library on any model, names ------------------------------------------------------------

def test_cli_exports_a_paper_figure_and_refuses_bad_combinations(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "explorer", "export", "resnet50", "--style", "paper", "--format", "tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "resnet50_paper_stages.tex").read_text().startswith("% resnet50: paper stages")
    run = subprocess.run([sys.executable, "-m", "explorer", "export", "resnet18", "--style", "flat", "--theme", "dark",
                          "--size", "page", "-o", "fig.md"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "fig.md").read_text().startswith("```mermaid")
    for bad, message in ((["--style", "paper", "--level", "layers"], "a paper figure draws stages or blocks"),
                         (["--style", "paper", "--format", "dot"], "DOT is the Graphviz source"),
                         (["--level", "ops", "--format", "drawio"], "the ops level exports as SVG, PDF, PNG or DOT")):
        run = subprocess.run([sys.executable, "-m", "explorer", "export", "resnet18", *bad], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode != 0 and message in run.stderr and "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1


def test_any_model_gets_every_format() -> None:
    torchvision = pytest.importorskip("torchvision")
    import explorer

    t = explorer.trace(torchvision.models.resnet50(num_classes=10), input_size=224)
    for fmt in ("svg", "tex", "drawio", "mermaid", "graphml"):
        data = figure(t, fmt, "paper", "blocks")
        assert b"layer4" in data, fmt
    cells = drawio_cells(figure(t, "drawio", "paper", "blocks"))
    assert {b.name for b in t.blocks} <= set(cells)


def test_timm_spec_exports_through_the_same_door() -> None:
    pytest.importorskip("timm")
    from explorer.models import parse_model

    model = parse_model("timm:resnet26d")
    svg = export_bytes(model, "svg", style="paper", level="stages")
    assert b"layer4 \xc3\x972" in svg  # "layer4 ×2"
    assert export_filename(model, "drawio", "stages", "paper", "dark", "page") == "timm_resnet26d_paper_stages_dark_page.drawio"
    assert export_filename(model, "mermaid", "blocks") == "timm_resnet26d_blocks.md"


def test_cached_repeat_returns_the_same_bytes() -> None:
    cfg = get_preset("resnet152")
    first = export_bytes(cfg, "pdf", style="paper", level="blocks", size="page")
    assert export_bytes(cfg, "pdf", style="paper", level="blocks", size="page") is first
