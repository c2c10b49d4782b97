"""Graph -> a Mermaid flowchart in a fenced block, for Markdown and GitHub READMEs.

Nodes keep the graph's labels and colours (one ``classDef`` per kind), edges their tensor shapes; identity
shortcuts are dotted, projection shortcuts orange and thick, and the layers level keeps one subgraph per block.
"""
from __future__ import annotations

import json

from ..graph.dot import COLORS, IDENTITY_EDGE, SHORTCUT_EDGE
from ..graph.levels import Graph, Node
from .themes import role_name


def _label(s: str) -> str:
    """A quoted Mermaid label: quotes as entities, line breaks as <br/>."""
    return '"' + s.replace("&", "#amp;").replace('"', "#quot;").replace("\n", "<br/>") + '"'


def _node(ids: dict[str, str], n: Node) -> str:
    if n.kind == "add":
        return f"{ids[n.id]}(({_label(n.label)}))"
    if n.kind == "io":
        return f"{ids[n.id]}[/{_label(n.label)}/]"
    return f"{ids[n.id]}[{_label(n.label)}]"


def to_mermaid(g: Graph, direction: str = "TB", fenced: bool = True) -> str:
    ids = {n.id: f"n{i}" for i, n in enumerate(g.nodes)}
    lines = [f"---\ntitle: {json.dumps(g.title)}\n---", f"flowchart {direction}"]
    lines += [f"  {_node(ids, n)}" for n in g.nodes if n.cluster is None]
    for cl, label in g.clusters.items():
        lines.append(f"  subgraph c_{ids[next(n.id for n in g.nodes if n.cluster == cl)]}[{_label(label)}]")
        lines += [f"    {_node(ids, n)}" for n in g.nodes if n.cluster == cl]
        lines.append("  end")
    styles = {"projection": f"stroke:{SHORTCUT_EDGE},stroke-width:2px,color:{SHORTCUT_EDGE}",
              "identity": f"stroke:{IDENTITY_EDGE}"}
    by_kind: dict[str, list[str]] = {}
    for i, e in enumerate(g.edges):
        arrow = "-.->" if e.kind == "identity" else "-->"
        label = f"|{_label(e.label)}|" if e.label else ""
        lines.append(f"  {ids[e.tail]} {arrow}{label} {ids[e.head]}")
        if e.kind in styles:
            by_kind.setdefault(e.kind, []).append(str(i))
    for kind, edges in by_kind.items():
        lines.append(f"  linkStyle {','.join(edges)} {styles[kind]}")
    kinds = sorted({n.kind for n in g.nodes})
    for kind in kinds:
        lines.append(f"  classDef {role_name(kind)} fill:{COLORS.get(kind, '#ffffff')},stroke:#495057,color:#212529")
        lines.append(f"  class {','.join(ids[n.id] for n in g.nodes if n.kind == kind)} {role_name(kind)}")
    body = "\n".join(lines) + "\n"
    return f"```mermaid\n{body}```\n" if fenced else body
