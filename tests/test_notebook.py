"""The library in a notebook (#15, part): a Trace shows as an HTML table, a graph as inline SVG that scales to
the cell (the IPython display protocol; read back here with the standard library's parsers)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import torchvision

from explorer import trace
from explorer.graph.levels import build_graph
from explorer.tracing import structure_trace
from resnet import get_preset

ROOT = Path(__file__).resolve().parent.parent


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.caption = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        self._in = tag

    def handle_data(self, data):
        if self._in in ("td", "th"):
            self.rows[-1].append(data)
        elif self._in == "caption":
            self.caption += data


def test_trace_shows_as_an_html_table() -> None:
    t = trace(torchvision.models.resnet50(num_classes=10), input_size=160)
    cells = _Cells()
    cells.feed(t._repr_html_())
    header, *rows = cells.rows
    assert header[:3] == ["block", "type", "in → out"] and len(rows) == len(t.blocks) == 16
    assert rows[3][0] == "layer2.0" and rows[3][5].startswith("1×1 conv s2 + BN")
    assert cells.caption == (f"torchvision:resnet50:c10: 16 blocks, {t.total_params:,} parameters, "
                             f"{t.total_macs:,} MACs per image at 3×160×160")


def test_graph_shows_as_svg_that_fits_the_cell() -> None:
    svg = build_graph(structure_trace(get_preset("resnet18")), "blocks")._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "width" not in root.attrib and root.attrib["viewBox"]
    assert "max-width:100%" in root.attrib["style"]
    titles = {el.text for el in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {"layer1.0", "layer4.1", "layer2.0.downsample"} <= titles


def test_capture_displays_as_its_across_network_plot() -> None:
    import json

    import torch
    from PIL import Image

    import resnet
    from explorer.capture import capture

    torch.manual_seed(0)
    cap = capture(resnet.resnet18().eval(), resnet.Preprocess()(Image.open(ROOT / "resnet_explorer/assets/examples/cat.jpg")))
    bundle = cap._repr_mimebundle_()
    fig = bundle["application/vnd.plotly.v1+json"]
    fig = json.loads(fig) if isinstance(fig, str) else fig
    names = [trace["name"] for trace in fig["data"]]
    assert "zeros" in names and "projection shortcut" in names
    assert fig["data"][0]["x"] == [b.name for b in cap.blocks]


def test_example_notebook_runs_in_a_real_jupyter_kernel() -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "examples" / "explore.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs if o.output_type in ("execute_result", "display_data")]
    tables = [d["text/html"] for d in data if "resnet-explorer-trace" in d.get("text/html", "")]
    assert len(tables) == 2 and "layer4.2" in tables[0] and "torchvision:resnet18:c10" in tables[1]
    svgs = [d["image/svg+xml"] for d in data if "image/svg+xml" in d]
    assert len(svgs) == 2 and "layer3.1 … layer3.5" in svgs[0] and "layer4 ×3" in svgs[1]  # graph, paper figure
    assert any("application/vnd.plotly.v1+json" in d for d in data)  # the capture's plot
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "self._make_layer(Bottleneck, planes=256, blocks=6, stride=2)" in printed
    # each object displayed once, not printed and returned twice
    assert not any("<explorer." in o.get("text", "") or "Trace(" in o.get("text", "") for o in outputs
                   if o.output_type == "stream")
