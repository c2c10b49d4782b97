"""A Graph (stages / blocks / layers) laid out by Graphviz, as a Scene, so TikZ and draw.io get the same
drawing as the SVG: ``dot -Tjson0`` gives every node's box, every edge's spline and label position."""
from __future__ import annotations

from typing import Callable

import json

import graphviz

from ..graph.dot import to_dot
from ..graph.levels import Graph
from ..graph.render import GraphvizMissing, dot_available
from .scene import LINE_HEIGHT, Box, Colour, Curve, Scene, Text
from .themes import GRAPH, role_name

NODE_SIZE, SMALL_SIZE, EDGE_SIZE, TITLE_SIZE = 10.0, 9.0, 8.0, 14.0


def _floats(s: str) -> list[float]:
    return [float(v) for v in s.split(",")]


def _spline(pos: str, flip: Callable[[list[float]], tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Graphviz's ``e,x,y p0 p1 ...`` (cubic B-spline control points, then the arrow tip) as Bézier points."""
    end, points = None, []
    for part in pos.split():
        if part.startswith("e,"):
            end = flip(_floats(part[2:]))
        elif not part.startswith("s,"):
            points.append(flip(_floats(part)))
    if end is not None:  # a straight last segment to the arrow's tip
        (x0, y0), (x1, y1) = points[-1], end
        points += [(x0 + (x1 - x0) / 3, y0 + (y1 - y0) / 3), (x0 + 2 * (x1 - x0) / 3, y0 + 2 * (y1 - y0) / 3), end]
    return tuple(points)


def _text_at(id: str, x: float, cy: float, label: str, size: float, **kw) -> Text:
    lines = tuple(label.split("\n"))
    return Text(id, x, cy - len(lines) * size * LINE_HEIGHT / 2, lines, size, **kw)


def graph_scene(g: Graph, direction: str = "TB") -> Scene:
    """Lay ``g`` out with ``dot`` and return it as a Scene in points (y down)."""
    if not dot_available():
        raise GraphvizMissing()
    data = json.loads(graphviz.pipe("dot", "json0", to_dot(g, direction).encode(), quiet=True))
    _, _, width, height = _floats(data["bb"])

    def flip(p: list[float]) -> tuple[float, float]:
        return p[0], height - p[1]

    scene = Scene(width, height, GRAPH, title=g.title, background=False)
    if "lp" in data:
        x, y = flip(_floats(data["lp"]))
        scene.texts.append(_text_at("title", x, y, g.title, TITLE_SIZE, bold=True))
    for sub in data.get("objects", []):
        if "nodes" not in sub or not sub["name"].startswith("cluster_"):
            continue
        cl = sub["name"].removeprefix("cluster_")
        x0, y0, x1, y1 = _floats(sub["bb"])
        scene.groups[cl] = g.clusters.get(cl, cl)
        scene.boxes.append(Box(f"{cl}:frame", x0, height - y1, x1 - x0, y1 - y0, None, Colour("cluster"),
                               shape="rounded", group=cl, name=scene.groups[cl]))
        lx, ly = flip(_floats(sub["lp"]))
        scene.texts.append(_text_at(f"{cl}:label", lx, ly, scene.groups[cl], SMALL_SIZE, group=cl))
    nodes = {n.id: n for n in g.nodes}
    by_gvid = {}
    for obj in data.get("objects", []):
        if "nodes" in obj or obj["name"] not in nodes:
            continue
        n = nodes[obj["name"]]
        by_gvid[obj["_gvid"]] = n.id if n.kind != "io" else f"{n.id}:text"  # input/output are text alone
        cx, cy = flip(_floats(obj["pos"]))
        w, h = float(obj["width"]) * 72, float(obj["height"]) * 72
        size = SMALL_SIZE if n.kind in ("bn", "relu") else NODE_SIZE
        if n.kind != "io":
            shape = "circle" if n.kind == "add" else "rounded"
            scene.boxes.append(Box(n.id, cx - w / 2, cy - h / 2, w, h, Colour(role_name(n.kind)), shape=shape,
                                   group=n.cluster, name=n.label.split("\n")[0]))
        scene.texts.append(_text_at(f"{n.id}:text", cx, cy, n.label, size, owner=n.id if n.kind != "io" else None,
                                    group=n.cluster))
    names = {obj["_gvid"]: obj["name"] for obj in data.get("objects", []) if "nodes" not in obj}
    laid_out = {(names[obj["tail"]], names[obj["head"]]): obj for obj in data.get("edges", [])}
    for i, e in enumerate(g.edges):  # dot lists edges in its own order; a tail feeds each head once
        obj = laid_out[e.tail, e.head]
        kind = e.kind
        colour = Colour(kind if kind in ("identity", "projection") else "line")
        cid = f"edge{i}:{e.tail}->{e.head}"
        scene.curves.append(Curve(cid, _spline(obj["pos"], flip), colour, 1.2 if kind == "projection" else 0.8,
                                  dashed=kind == "identity", source=by_gvid.get(obj["tail"]),
                                  target=by_gvid.get(obj["head"]), kind=kind))
        if e.label and "lp" in obj:
            x, y = flip(_floats(obj["lp"]))
            scene.texts.append(_text_at(f"{cid}:label", x, y, e.label, EDGE_SIZE, colour=Colour(
                kind if kind in ("identity", "projection") else "text"), owner=cid))
    return scene
