"""Scene -> draw.io (diagrams.net) XML: every box, arc and label an editable cell, grouped per stage.

Boxes are draw.io shapes (3-D ones its ``cube``, mirrored so the faces recede up and to the right), text
beside a box is a text cell in the box's group, text inside a box or on an edge is that cell's own label,
and every connection is an edge attached to the cells it joins (``source``/``target``), so moving a box in
diagrams.net drags its arcs along. The file is plain (uncompressed) XML.
"""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from .scene import Box, Curve, Scene, Text

_SHAPES = {"rect": "rounded=0;", "rounded": "rounded=1;arcSize=12;", "circle": "ellipse;"}


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _geometry(x: float, y: float, w: float, h: float) -> str:
    return f'<mxGeometry x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" as="geometry"/>'


def _font(s: Scene, t: Text) -> str:
    return f"fontSize={_n(t.size)};fontColor={s.theme.hex(t.colour)};fontFamily=Helvetica;" + (
        "fontStyle=1;" if t.bold else "")


def _vertex(s: Scene, b: Box, label: Text | None, origin: tuple[float, float]) -> str:
    fill = s.theme.hex(b.fill) if b.fill else "none"
    style = f"fillColor={fill};strokeColor={s.theme.hex(b.stroke)};strokeWidth=0.5;html=0;whiteSpace=wrap;"
    if b.depth > 0:
        style = f"shape=cube;size={_n(b.depth)};flipH=1;darkOpacity=0.08;darkOpacity2=0.18;" + style
    else:
        style = _SHAPES.get(b.shape, "") + style
    value = "\n".join(label.lines) if label else b.name
    style += _font(s, label) if label else "noLabel=1;"
    left, top, right, bottom = b.bounds
    return (f'<mxCell id={quoteattr(b.id)} value={quoteattr(value)} style={quoteattr(style)} vertex="1" '
            f'parent={quoteattr(_parent(b.group))}>{_geometry(left - origin[0], top - origin[1], right - left, bottom - top)}'
            "</mxCell>")


def _text(s: Scene, t: Text, origin: tuple[float, float]) -> str:
    left, top, right, bottom = t.bounds
    align = "center" if t.anchor == "middle" else "left"
    style = f"text;html=0;align={align};verticalAlign=top;spacing=0;whiteSpace=nowrap;" + _font(s, t)
    return (f'<mxCell id={quoteattr(t.id)} value={quoteattr(chr(10).join(t.lines))} style={quoteattr(style)} '
            f'vertex="1" parent={quoteattr(_parent(t.group))}>'
            f"{_geometry(left - origin[0], top - origin[1], right - left, bottom - top)}</mxCell>")


def _edge(s: Scene, c: Curve, label: Text | None) -> str:
    style = (f"endArrow={'classic' if c.arrow else 'none'};endSize=4;html=0;curved=1;rounded=0;"
             f"strokeColor={s.theme.hex(c.stroke)};strokeWidth={_n(c.width)};")
    if c.dashed:
        style += "dashed=1;"
    if label:
        style += _font(s, label) + "labelBackgroundColor=none;"
    ends = "".join(f" {k}={quoteattr(v)}" for k, v in (("source", c.source), ("target", c.target)) if v)
    (x0, y0), (x1, y1) = c.points[0], c.points[-1]
    inner = "".join(f'<mxPoint x="{_n(x)}" y="{_n(y)}"/>' for x, y in c.points[1:-1])
    return (f'<mxCell id={quoteattr(c.id)} value={quoteattr(chr(10).join(label.lines) if label else "")} '
            f'style={quoteattr(style)} edge="1" parent="1"{ends}><mxGeometry relative="1" as="geometry">'
            f'<mxPoint x="{_n(x0)}" y="{_n(y0)}" as="sourcePoint"/><mxPoint x="{_n(x1)}" y="{_n(y1)}" '
            f'as="targetPoint"/><Array as="points">{inner}</Array></mxGeometry></mxCell>')


def _parent(group: str | None) -> str:
    return f"group:{group}" if group else "1"


def to_drawio(s: Scene) -> str:
    owned = {t.owner: t for t in s.texts if t.owner}
    cells = ['<mxCell id="0"/>', '<mxCell id="1" parent="0"/>']
    if s.background:
        cells.append(f'<mxCell id="background" value="" style="rounded=0;fillColor={s.theme.roles["background"]};'
                     f'strokeColor=none;locked=1;" vertex="1" parent="1">{_geometry(0, 0, s.width, s.height)}</mxCell>')
    origins: dict[str | None, tuple[float, float]] = {None: (0.0, 0.0)}
    for g, label in s.groups.items():
        bounds = [b.bounds for b in s.boxes if b.group == g] + [t.bounds for t in s.texts if t.group == g and not t.owner]
        if not bounds:
            continue
        x0, y0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
        x1, y1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
        origins[g] = (x0, y0)
        cells.append(f'<mxCell id={quoteattr(_parent(g))} value={quoteattr(label)} style="group;noLabel=1;" '
                     f'vertex="1" connectable="0" parent="1">{_geometry(x0, y0, x1 - x0, y1 - y0)}</mxCell>')
    for b in s.boxes:
        cells.append(_vertex(s, b, owned.get(b.id), origins.get(b.group, (0.0, 0.0))))
    for t in s.texts:
        if not t.owner:
            cells.append(_text(s, t, origins.get(t.group, (0.0, 0.0))))
    cells.extend(_edge(s, c, owned.get(c.id)) for c in s.curves)
    bg = f' background="{s.theme.roles["background"]}"' if s.background else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<mxfile host="ResNet Explorer" type="device"><diagram id="resnet" name={quoteattr(s.title)}>'
            f'<mxGraphModel dx="0" dy="0" grid="0" gridSize="10" guides="1" tooltips="1" connect="1" arrows="1" '
            f'fold="1" page="1" pageScale="1" pageWidth="{_n(s.width)}" pageHeight="{_n(s.height)}"{bg} math="0" '
            f'shadow="0"><root>\n' + "\n".join(cells) + "\n</root></mxGraphModel></diagram></mxfile>\n")
