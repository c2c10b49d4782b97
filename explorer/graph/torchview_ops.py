"""The ``ops`` level: torchview's operation graph, with each module node labelled by its module path."""
from __future__ import annotations

from typing import Any

import copy
import re

from torch import nn

from ..tracing.patching import patching

_NAME_CELL = re.compile(r'(<TD ROWSPAN="2">)(\w+)(<BR/>)')


def ops_dot(model: nn.Module, input_size: int, direction: str = "TB", title: str = "model") -> str:
    """torchview's ``draw_graph`` (depth 4: every conv, BN, ReLU, pool and add, with the projection shortcut opened up) as Graphviz source.

    torchview moves the model it is given to its device and runs it, so it gets a copy; a meta model (the
    structure views' kind) runs on the meta device, so no size is too large to draw.
    """
    from torchview import draw_graph  # imported here: only this level needs it

    with patching():  # torchview patches nn.Module.__call__ and tensor creation for the process while it draws
        twin = copy.deepcopy(model).eval()
        graph = draw_graph(twin, input_size=(1, 3, input_size, input_size), depth=4,
                           device=next(model.parameters()).device, graph_name=title, hide_inner_tensors=True,
                           roll=False)
    paths = {id(m): name for name, m in twin.named_modules()}
    labels: dict[str, str] = {}
    for node in _walk(graph):
        unit = getattr(node, "compute_unit_id", None)
        if unit in paths and node.node_id in graph.id_dict:
            labels[str(graph.id_dict[node.node_id])] = paths[unit]
    body = []
    for line in graph.visual_graph.body:
        m = re.match(r"\t(\d+) \[label=<", line)
        if m and m.group(1) in labels:
            line = _NAME_CELL.sub(lambda g: f"{g.group(1)}{labels[m.group(1)]}<BR/>{g.group(2)}{g.group(3)}", line, 1)
        body.append(line)
    graph.visual_graph.body = body
    graph.visual_graph.graph_attr["rankdir"] = direction
    return graph.visual_graph.source


def _walk(graph: Any) -> list:  # a torchview ComputationGraph
    """Every node reachable from torchview's root nodes."""
    seen: dict[int, object] = {}
    stack = list(graph.root_container)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(getattr(node, "children", []))
    return list(seen.values())


__all__ = ["ops_dot"]
