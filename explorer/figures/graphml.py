"""Graph -> GraphML (networkx, yEd, Gephi), every node and edge with its attributes from the trace:
kind, stage, shapes, parameters and MACs, so the file can be analysed, not only drawn."""
from __future__ import annotations

import io

from ..graph.levels import Graph, Node
from ..tracing.records import Trace, format_shape


def _conv_cost(t: Trace, node_id: str) -> dict[str, object]:
    """A layers-level conv node: its shape, parameters and MACs from its ConvRecord."""
    block, _, conv = node_id.rpartition(".")
    try:
        c = next(c for c in t.block(block).convs if c.name == conv)
    except (KeyError, StopIteration):
        return {}
    params = c.in_channels * c.out_channels * c.kernel_size ** 2 // c.groups
    positions = c.out_shape[1] * c.out_shape[2] if len(c.out_shape) == 3 else 1
    return {"out_shape": format_shape(c.out_shape), "params": params, "macs": params * positions}


def node_facts(t: Trace, n: Node) -> dict[str, object]:
    """What the trace knows about the part a node stands for (empty where it knows nothing more)."""
    blocks = {b.name: i for i, b in enumerate(t.blocks)}
    stages = {s.name: s for s in t.stages}
    shortcuts = {b.downsample.name: b.downsample for b in t.blocks if b.downsample}
    first, _, last = n.id.partition("-")  # a folded run of blocks: "layer3.1-layer3.35"
    if first in blocks and (not last or last in blocks):
        run = t.blocks[blocks[first]:blocks[last or first] + 1]
        b = run[0]
        return {"stage": b.stage_name, "block_type": b.block_type, "in_shape": format_shape(b.in_shape),
                "out_shape": format_shape(run[-1].out_shape), "width": b.width, "stride": b.stride,
                "blocks": len(run), "shortcut": b.downsample.word if b.downsample else "identity",
                "params": sum(r.params for r in run), "macs": sum(r.macs for r in run)}
    if n.id in stages:
        s = stages[n.id]
        return {"stage": s.name, "block_type": s.block_type, "blocks": s.blocks, "in_shape": format_shape(s.in_shape),
                "out_shape": format_shape(s.out_shape), "stride": s.stride, "params": s.params, "macs": s.macs}
    if n.id in ("stem", "head"):
        m = t.stem if n.id == "stem" else t.head
        return {"in_shape": format_shape(m.in_shape), "out_shape": format_shape(m.out_shape), "params": m.params,
                "macs": m.macs}
    if n.id in shortcuts:
        d = shortcuts[n.id]
        return {"in_shape": format_shape(d.in_shape), "out_shape": format_shape(d.out_shape), "stride": d.stride,
                "params": d.params, "macs": d.macs}
    if n.id in ("input", "output"):
        return {"out_shape": format_shape(t.input_shape if n.id == "input" else t.output_shape)}
    return _conv_cost(t, n.id)


def to_graphml(g: Graph, t: Trace) -> str:
    import networkx as nx

    d = nx.DiGraph(name=g.title, level=g.level, model=t.model_name)
    for n in g.nodes:
        d.add_node(n.id, label=n.label, kind=n.kind, cluster=n.cluster or "", **node_facts(t, n))
    for i, e in enumerate(g.edges):
        # parallel edges cannot happen: a tail feeds each head once in these graphs
        d.add_edge(e.tail, e.head, label=e.label, kind=e.kind, order=i)
    buf = io.BytesIO()
    nx.write_graphml(d, buf, encoding="utf-8", prettyprint=True)
    return buf.getvalue().decode()
