"""Graphviz source from a Graph record: one palette and one set of shapes for every level and export."""
from __future__ import annotations

from ..palette import PROJECTION
from .levels import Edge, Graph, Node

DIRECTIONS: dict[str, str] = {"TB": "top to bottom", "LR": "left to right"}

# One palette for every level and export: block types, projection shortcuts, stem/head.
COLORS: dict[str, str] = {
    "io": "#f8f9fa", "stem": "#dee2e6", "head": "#dee2e6", "BasicBlock": "#d0ebff", "Bottleneck": "#d3f9d8",
    "downsample": "#ffd8a8", "add": "#ffffff", "bn": "#fff3bf", "relu": "#f1f3f5", "extra": "#e5dbff",
}
SHORTCUT_EDGE = PROJECTION
IDENTITY_EDGE = "#868e96"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _node_attrs(n: Node) -> str:
    if n.kind == "add":
        return f'label="+", shape=circle, width=0.32, height=0.32, fixedsize=true, fillcolor="{COLORS["add"]}"'
    if n.kind in ("bn", "relu"):
        return f"label={_quote(n.label)}, shape=box, height=0.22, fontsize=9, fillcolor=\"{COLORS[n.kind]}\""
    shape = "box" if n.kind != "io" else "plaintext"
    return f"label={_quote(n.label)}, shape={shape}, fillcolor=\"{COLORS.get(n.kind, '#ffffff')}\""


def _edge_attrs(e: Edge) -> str:
    attrs = [f"label={_quote(e.label)}"] if e.label else []
    if e.kind == "identity":
        attrs += ["style=dashed", f'color="{IDENTITY_EDGE}"', f'fontcolor="{IDENTITY_EDGE}"']
    elif e.kind == "projection":
        attrs += [f'color="{SHORTCUT_EDGE}"', f'fontcolor="{SHORTCUT_EDGE}"', "penwidth=1.6"]
    return f" [{', '.join(attrs)}]" if attrs else ""


def to_dot(g: Graph, direction: str = "TB") -> str:
    """Graphviz source; ``direction`` is TB (top to bottom) or LR (left to right)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {list(DIRECTIONS)}, got {direction!r}")
    lines = [
        f"digraph {_quote(g.title)} {{",
        f'  graph [rankdir={direction}, label={_quote(g.title)}, labelloc=t, fontname="Helvetica", fontsize=14, '
        'nodesep=0.25, ranksep=0.3, bgcolor="white"];',
        '  node [style="rounded,filled", fontname="Helvetica", fontsize=10, color="#495057", margin="0.12,0.04"];',
        '  edge [fontname="Helvetica", fontsize=8, color="#495057", arrowsize=0.6];',
    ]
    for n in g.nodes:
        if n.cluster is None:
            lines.append(f"  {_quote(n.id)} [{_node_attrs(n)}];")
    for cl, label in g.clusters.items():
        lines.append(f"  subgraph {_quote('cluster_' + cl)} {{")
        lines.append(f'    label={_quote(label)}; style="rounded"; color="#adb5bd"; fontsize=10;')
        lines.extend(f"    {_quote(n.id)} [{_node_attrs(n)}];" for n in g.nodes if n.cluster == cl)
        lines.append("  }")
    lines.extend(f"  {_quote(e.tail)} -> {_quote(e.head)}{_edge_attrs(e)};" for e in g.edges)
    lines.append("}")
    return "\n".join(lines)
