"""Architecture graphs built from a Trace (never by re-tracing), at three levels of detail.

``stages``: stem -> layer1..layer4 -> head. ``blocks``: one node per residual block, with each projection
shortcut as its own path and identity shortcuts as skip edges into the add. ``layers``: conv / BN / ReLU
inside every block. (The fourth level, ``ops``, is torchview's graph: see ``torchview_ops``.)
The result is a small record of nodes and edges; ``dot.to_dot`` turns it into Graphviz source.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..tracing.records import ACTIVATION_NAMES, BlockRecord, ConvRecord, LayerRecord, ModuleRecord, Trace, format_shape

LEVELS: tuple[str, ...] = ("stages", "blocks", "layers", "ops")


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str  # a COLORS key; decides colour and shape
    cluster: str | None = None


@dataclass(frozen=True)
class Edge:
    tail: str
    head: str
    label: str = ""  # the tensor shape flowing along the edge, from the trace
    kind: str = "data"  # "data", "identity" (skip edge) or "projection"


@dataclass
class Graph:
    title: str
    level: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: dict[str, str] = field(default_factory=dict)  # id -> label

    def node(self, id: str, label: str, kind: str, cluster: str | None = None) -> str:
        self.nodes.append(Node(id, label, kind, cluster))
        return id

    def edge(self, tail: str, head: str, shape: tuple[int, ...] | None = None, kind: str = "data") -> None:
        self.edges.append(Edge(tail, head, format_shape(shape) if shape else "", kind))

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a graph as inline SVG, scaled to the cell's width rather than cut off (None without
        Graphviz's dot: the notebook falls back to the text form)."""
        from .dot import to_dot
        from .render import GraphvizMissing, render

        try:
            svg = render(to_dot(self)).decode()
        except GraphvizMissing:
            return None
        svg = svg[svg.index("<svg"):]
        return re.sub(r'<svg width="[\d.]+pt" height="[\d.]+pt"', '<svg style="max-width:100%;height:auto"', svg, 1)


def _conv_text(c: ConvRecord, with_in: bool = True) -> str:
    k = f"{c.kernel_size}×{c.kernel_size}"
    ch = f"{c.in_channels}→{c.out_channels}" if with_in else f"{c.out_channels}"
    extras = [f"s{c.stride}"] if c.stride != 1 else []
    if c.groups != 1:
        extras.append(f"g{c.groups}")
    if c.dilation != 1:
        extras.append(f"d{c.dilation}")
    return " ".join([k, ch, *extras])


def block_label(b: BlockRecord) -> str:
    convs = " · ".join(_conv_text(c) for c in b.convs)
    extras = "".join(f" · {e.label}" for e in b.extras)
    return f"{b.name} · {b.block_type}\n{convs}{extras}"


def _part_label(part: ModuleRecord) -> str:
    """``stem: 7×7 conv s2 + BN + ReLU + 3×3 maxpool s2`` and its shapes, read from the traced layers."""
    return f"{part.name}: {part.label}\n{format_shape(part.in_shape)} → {format_shape(part.out_shape)}"


def _start(t: Trace, g: Graph) -> str:
    g.node("input", f"input {format_shape(t.input_shape)}", "io")
    g.node("stem", _part_label(t.stem), "stem")
    g.edge("input", "stem", t.input_shape)
    return "stem"


def _end(t: Trace, g: Graph, prev: str, prev_shape: tuple[int, ...]) -> Graph:
    g.node("head", _part_label(t.head), "head")
    g.edge(prev, "head", prev_shape)
    g.node("output", f"output {format_shape(t.output_shape)}", "io")
    g.edge("head", "output", t.output_shape)
    return g


def stages_graph(t: Trace) -> Graph:
    g = Graph(f"{t.model_name}: stages", "stages")
    prev, shape = _start(t, g), t.stem.out_shape
    for s in t.stages:
        (c_in, *hw_in), (c_out, *hw_out) = s.in_shape, s.out_shape
        label = (f"{s.name}: {s.block_type} ×{s.blocks}\n{c_in} → {c_out} ch · "
                 f"{format_shape(tuple(hw_in))} → {format_shape(tuple(hw_out))} · stride {s.stride}")
        g.node(s.name, label, s.block_type)
        g.edge(prev, s.name, shape)
        prev, shape = s.name, s.out_shape
    return _end(t, g, prev, shape)


def _shortcut(g: Graph, b: BlockRecord, prev: str, add: str, cluster: str | None = None) -> None:
    if b.downsample is None:
        g.edge(prev, add, kind="identity")  # the shape is the block's input, already on the main edge
        return
    d = b.downsample
    g.node(d.name, f"{d.label}\n{d.name}", "downsample", cluster)
    g.edge(prev, d.name, d.in_shape, kind="projection")
    g.edge(d.name, add, d.out_shape, kind="projection")


def blocks_graph(t: Trace, collapse: bool = False) -> Graph:
    """One node per block; ``collapse`` folds each stage's repeated identity blocks into one "×N" node."""
    g = Graph(f"{t.model_name}: blocks", "blocks")
    prev, shape = _start(t, g), t.stem.out_shape
    for s in t.stages:
        members = [b for b in t.blocks if b.stage == s.stage]
        runs = [[m] for m in members] if not collapse else [[members[0]], members[1:]] if len(members) > 1 else [members]
        for run in runs:
            b = run[0]
            if len(run) == 1:
                node_id, label = b.name, block_label(b)
            else:
                node_id = f"{b.name}-{run[-1].name}"
                label = f"{b.name} … {run[-1].name}: {b.block_type} ×{len(run)}\n{block_label(b).split(chr(10))[1]}"
            add = f"{node_id}:add"
            g.node(node_id, label, b.block_type)
            g.node(add, "+", "add")
            g.edge(prev, node_id, b.in_shape)
            g.edge(node_id, add, b.out_shape)
            _shortcut(g, b, prev, add)
            prev, shape = add, run[-1].out_shape
    return _end(t, g, prev, shape)


def _branch_nodes(g: Graph, b: BlockRecord, x: str, x_shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """The residual branch in forward order, as the trace saw it run: convs, norms, activations, and whatever
    else the block holds where it sits (SE/ECA attention, blur pool); returns the last node and its shape."""
    convs = {f"{b.name}.{c.name}": c for c in b.convs}
    for layer in b.branch:
        node = _layer_node(g, b, layer, convs)
        g.edge(x, node, None if _is_activation(layer) else x_shape)
        x, x_shape = node, layer.out_shape
    return x, x_shape


def _is_activation(layer: LayerRecord) -> bool:
    return layer.kind in ("relu", *ACTIVATION_NAMES)


def _layer_node(g: Graph, b: BlockRecord, layer: LayerRecord, convs: dict[str, ConvRecord]) -> str:
    short = layer.name.removeprefix(f"{b.name}.").removeprefix(f"{b.name}:")
    if layer.name in convs:
        return g.node(layer.name, f"{short}: {_conv_text(convs[layer.name])}", b.block_type, b.name)
    if layer.kind == "bn":
        return g.node(layer.name, short.split("#")[0], "bn", b.name)
    if _is_activation(layer):
        return g.node(layer.name, layer.label, "relu", b.name)
    return g.node(layer.name, f"{short}: {layer.label}", "extra", b.name)


def layers_graph(t: Trace) -> Graph:
    """Every layer inside each block (one cluster per block): convs, norms, activations, attention and pools in
    the order they ran, the shortcut, the residual add and what follows it."""
    g = Graph(f"{t.model_name}: layers", "layers")
    prev, shape = _start(t, g), t.stem.out_shape
    for b in t.blocks:
        g.clusters[b.name] = f"{b.name} · {b.block_type}"
        x, x_shape = _branch_nodes(g, b, prev, b.in_shape)
        add = g.node(f"{b.name}:add", "+", "add", b.name)
        g.edge(x, add, x_shape)
        _shortcut(g, b, prev, add, b.name)
        out = add
        for layer in b.after:
            node = _layer_node(g, b, layer, {})
            g.edge(out, node)
            out = node
        prev, shape = out, b.out_shape
    return _end(t, g, prev, shape)


def build_graph(t: Trace, level: str = "blocks", collapse: bool = False) -> Graph:
    if level == "stages":
        return stages_graph(t)
    if level == "blocks":
        return blocks_graph(t, collapse=collapse)
    if level == "layers":
        return layers_graph(t)
    raise ValueError(f"level must be one of {list(LEVELS[:3])} for a trace graph, got {level!r}")
