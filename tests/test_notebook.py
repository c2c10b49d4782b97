"""The library in a notebook (#15, part): a Trace shows as an HTML table, a graph as inline SVG that scales to
the cell (the IPython display protocol; read back here with the standard library's parsers)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import torchvision

from explorer import trace
from explorer.graph.levels import build_graph
from explorer.tracing import structure_trace
from resnet import get_preset


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.caption = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        if tag == "tr":
            self.rows.append([])
        self._in = tag

    def handle_data(self, data):  # noqa: ANN001
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
